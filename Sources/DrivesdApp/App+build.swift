import DriveAPI
import DriveStorage
import DriveStore
import DriveWorker
import Logging

/// The composition root: the one place that knows which storage implementation backs the API.
/// It builds the stores (SQLite today: `AppDatabase.stores`), the API over their protocols, and
/// the after-commit effects the outbox runner carries out. A second backend is a second case
/// here; controllers, the worker and the outbox runner do not change.
public enum DrivesdApp {
    /// Where the data lives.
    public enum Backend: Sendable {
        /// One SQLite database (WAL), opened and migrated by the caller.
        case sqlite(AppDatabase)
    }

    /// The stores of `backend`, configured by `settings`.
    public static func stores(_ backend: Backend, settings: APISettings) throws -> Stores {
        switch backend {
        case .sqlite(let database):
            try database.stores(
                durations: settings.durations, catalogue: settings.catalogue, hosts: settings.storageHosts,
                hotplug: settings.hotplug)
        }
    }

    /// The handlers of after-commit effects, by name. Effects are idempotent (see `OutboxRunner`).
    public static func effects(_ backend: Backend, logger: Logger) -> [String: OutboxRunner.Handler] {
        [:]
    }

    /// The API over `backend`: its router, and the transition worker and outbox runner beside it
    /// (`DrivesAPI.buildApplication` serves them together).
    public static func buildAPI(_ backend: Backend, settings: APISettings, logger: Logger) throws -> DrivesAPI {
        DrivesAPI(
            stores: try stores(backend, settings: settings), settings: settings, logger: logger,
            effects: effects(backend, logger: logger))
    }
}
