import DriveLifecycle
import DriveModel
import DriveStorage

extension AppDatabase {
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
    ) throws -> Stores {
        let env = WriteEnvironment(
            durations: durations, modes: try TransitionModes(database: self), catalogue: catalogue, hosts: max(1, hosts))
        return Stores(
            drives: SQLiteDriveRepository(database: self, env: env),
            licenses: SQLiteLicenseRepository(database: self),
            jobs: SQLiteJobRepository(database: self),
            servers: SQLiteServerRepository(database: self, env: env, hotplug: hotplug),
            tags: SQLiteTagRepository(database: self),
            networks: SQLiteNetworkRepository(database: self),
            library: SQLiteLibraryRepository(database: self),
            accounts: self,
            admin: SQLiteAdminRepository(database: self, env: env),
            transitions: SQLiteTransitionRepository(database: self, env: env),
            outbox: SQLiteOutboxRepository(database: self),
            content: SQLiteContentRepository(database: self, env: env),
            snapshots: SQLiteSnapshotRepository(database: self, env: env),
            events: SQLiteEventRepository(database: self),
            changes: generation,
            signals: signals)
    }
}
