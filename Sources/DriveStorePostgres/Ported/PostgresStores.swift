// Ported from Sources/DriveStore/SQLiteStores.swift (the SQLite store): keep the two in step.
import DriveLifecycle
import DriveModel
import DriveStorage

extension PostgresAppDatabase {
    /// Every store of the API over this database, behind the storage protocols: what a
    /// composition root hands to the API and the background services. Loads the transition modes
    /// set through the admin API.
    ///
    /// - Parameters:
    ///   - durations: simulated operation durations and the time scale.
    ///   - catalogue: the storage types offered and their limits.
    ///   - hosts: simulated storage hosts drives are placed on (availability groups).
    ///   - hotplug: whether `drives` changes apply to running servers (decision 6).
    public func stores(
        durations: OperationDurations, catalogue: StorageCatalogue = StorageCatalogue(), hosts: Int = 4, hotplug: Bool = true
    ) async throws -> Stores {
        let env = WriteEnvironment(
            durations: durations, modes: try await TransitionModes(database: self), catalogue: catalogue, hosts: max(1, hosts))
        return Stores(
            drives: PostgresDriveRepository(database: self, env: env),
            licenses: PostgresLicenseRepository(database: self),
            jobs: PostgresJobRepository(database: self),
            servers: PostgresServerRepository(database: self, env: env, hotplug: hotplug),
            tags: PostgresTagRepository(database: self),
            networks: PostgresNetworkRepository(database: self),
            library: PostgresLibraryRepository(database: self),
            accounts: store,
            admin: PostgresAdminRepository(database: self, env: env),
            transitions: PostgresTransitionRepository(database: self, env: env),
            outbox: PostgresOutboxRepository(database: self),
            content: PostgresContentRepository(database: self, env: env),
            snapshots: PostgresSnapshotRepository(database: self, env: env),
            events: PostgresEventRepository(database: self),
            changes: generation,
            signals: signals)
    }
}
