import DriveAPI
import DriveContent
import DriveModel
import DriveStorage
import DriveStore
import DriveStorePostgres
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
        case sqlite(DriveStore.AppDatabase)
        /// A PostgreSQL database several processes may share, migrated by the caller, its pool
        /// running.
        case postgres(PostgresAppDatabase)
    }

    /// The stores of `backend`, configured by `settings`.
    public static func stores(_ backend: Backend, settings: APISettings) async throws -> Stores {
        switch backend {
        case .sqlite(let database):
            try database.stores(
                durations: settings.durations, catalogue: settings.catalogue, hosts: settings.storageHosts,
                hotplug: settings.hotplug)
        case .postgres(let database):
            try await database.stores(
                durations: settings.durations, catalogue: settings.catalogue, hosts: settings.storageHosts,
                hotplug: settings.hotplug)
        }
    }

    /// The handlers of after-commit effects, by name. Effects are idempotent (see `OutboxRunner`).
    /// - `content.remove` `{"image": id}`: deletes the files of a content image the database
    ///   removed (its last drive went); retried while a download still reads it.
    public static func effects(content: ContentService, logger: Logger) -> [String: OutboxRunner.Handler] {
        [
            "content.remove": { entry in
                guard case .int(let image)? = (try? JSONParser.parse(Array(entry.payload.utf8)))?["image"] else {
                    logger.error("content.remove without an image", metadata: ["payload": "\(entry.payload)"])
                    return
                }
                try await content.removeImageFiles(image)
            }
        ]
    }

    /// The content service over `backend`'s content map and the data directory `directory`.
    public static func content(_ stores: Stores, directory: ContentDirectory, settings: APISettings, logger: Logger)
        -> ContentService
    {
        var contentLogger = logger
        contentLogger[metadataKey: "subsystem"] = "content"
        return ContentService(directory: directory, repository: stores.content, catalogue: settings.catalogue, logger: contentLogger)
    }

    /// The API over `backend` and the data directory `dataDirectory`: its router, and the
    /// transition worker and outbox runner beside it (`DrivesAPI.buildApplication` serves them
    /// together). Call ``DrivesAPI/content``'s `prepare()` before serving.
    public static func buildAPI(
        _ backend: Backend, dataDirectory: ContentDirectory, settings: APISettings, logger: Logger
    ) async throws -> DrivesAPI {
        let stores = try await stores(backend, settings: settings)
        return buildAPI(stores: stores, dataDirectory: dataDirectory, settings: settings, logger: logger)
    }

    /// The API over `stores` (from ``stores(_:settings:)``) and the data directory `dataDirectory`.
    public static func buildAPI(
        stores: Stores, dataDirectory: ContentDirectory, settings: APISettings, logger: Logger
    ) -> DrivesAPI {
        let content = content(stores, directory: dataDirectory, settings: settings, logger: logger)
        return DrivesAPI(
            stores: stores, content: content, settings: settings, logger: logger,
            effects: effects(content: content, logger: logger))
    }
}
