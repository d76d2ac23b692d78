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
            drives: SQLDriveRepository(database: self, env: env),
            licenses: SQLLicenseRepository(database: self),
            jobs: SQLJobRepository(database: self),
            servers: SQLServerRepository(database: self, env: env, hotplug: hotplug),
            tags: SQLTagRepository(database: self),
            networks: SQLNetworkRepository(database: self),
            library: SQLLibraryRepository(database: self),
            accounts: store,
            admin: SQLAdminRepository(database: self, env: env),
            transitions: SQLTransitionRepository(database: self, env: env),
            outbox: SQLOutboxRepository(database: self),
            content: SQLContentRepository(database: self, env: env),
            snapshots: SQLSnapshotRepository(database: self, env: env),
            events: SQLEventRepository(database: self),
            states: SQLStateRepository(database: self),
            changes: generation,
            signals: signals)
    }
}
