import DriveLifecycle
import DriveModel
import DriveStorage
import Foundation
import GRDB
import Testing

@testable import DriveStore

/// A migrated database in a temporary file with one account, and its stores: the store tested
/// without HTTP.
struct StoreEnv {
    let path: String
    let database: AppDatabase
    let stores: Stores
    let owner: String

    static func make(
        durations: OperationDurations = OperationDurations(timeScale: 0), path: String? = nil
    ) throws -> StoreEnv {
        let path = path ?? FileManager.default.temporaryDirectory.appendingPathComponent("drivesd-store-\(UUID().uuidString).sqlite").path
        let database = try AppDatabase.open(path: path)
        try database.migrate()
        let owner = try database.users().first?.uuid ?? database.addUser(email: "store@example.com", password: "pw", iterations: 1000).uuid
        return StoreEnv(path: path, database: database, stores: try database.stores(durations: durations), owner: owner)
    }

    func close() throws { try database.close() }

    func remove() {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }

    /// A drive spec of `size` bytes (default 1 GiB).
    static func spec(_ name: String = "d", size: Int64 = 1 << 30) -> DriveSpec {
        DriveSpec(name: name, size: size, media: .disk, storageType: "dssd")
    }

    /// Completes everything due at `now` (default: now).
    @discardableResult
    func complete(now: Date = Date()) async throws -> CompletedTransitions {
        try await stores.transitions.completeDue(now: now, limit: 10_000)
    }

    func status(_ uuid: String) async throws -> DriveStatus {
        try await stores.drives.drive(owner: owner, uuid: uuid).status
    }

    func count(_ sql: String) throws -> Int {
        try database.readSync { db in try Int.fetchOne(db, sql: sql) ?? 0 }
    }
}

/// Runs `body` on a fresh store, then removes it.
func withStore(
    durations: OperationDurations = OperationDurations(timeScale: 0), _ body: (StoreEnv) async throws -> Void
) async throws {
    let env = try StoreEnv.make(durations: durations)
    defer { env.remove() }
    try await body(env)
    try env.close()
}
