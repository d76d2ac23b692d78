import DriveLifecycle
import DriveModel
import DriveStorage
import Foundation
#if !POSTGRES
import GRDB
#endif
import Synchronization

/// The transition modes set through the admin API, kept in `transition_modes` and read on every
/// schedule from memory.
final class TransitionModes: Sendable {
    private let modes = Mutex<[TransitionOperation: TransitionMode]>([:])

    /// Loads the stored modes.
    #if POSTGRES
    convenience init(database: AppDatabase) async throws {
        self.init(stored: try await database.read { db in
            try Row.fetchAll(db, sql: "SELECT operation, mode, seconds FROM transition_modes")
        })
    }
    #else
    convenience init(database: AppDatabase) throws {
        self.init(stored: try database.readSync { db in
            try Row.fetchAll(db, sql: "SELECT operation, mode, seconds FROM transition_modes")
        })
    }
    #endif

    private init(stored: [Row]) {
        var loaded: [TransitionOperation: TransitionMode] = [:]
        for row in stored {
            guard let op = TransitionOperation(rawValue: row["operation"]) else { continue }
            switch row["mode"] as String {
            case "immediate": loaded[op] = .immediate
            case "manual": loaded[op] = .manual
            default: loaded[op] = .time(seconds: row["seconds"] ?? 0)
            }
        }
        modes.withLock { $0 = loaded }
    }

    subscript(operation: TransitionOperation) -> TransitionMode? { modes.withLock { $0[operation] } }

    var all: [TransitionOperation: TransitionMode] { modes.withLock { $0 } }

    /// Writes the mode of `operation` (nil clears it) inside the caller's transaction.
    static func store(_ db: Database, _ operation: TransitionOperation, _ mode: TransitionMode?) throws {
        if let mode {
            var seconds: Double?
            if case .time(let s) = mode { seconds = s }
            try db.execute(
                sql: """
                    INSERT INTO transition_modes (operation, mode, seconds) VALUES (?, ?, ?)
                    ON CONFLICT (operation) DO UPDATE SET mode = excluded.mode, seconds = excluded.seconds
                    """,
                arguments: [operation.rawValue, mode.name, seconds])
        } else {
            try db.execute(sql: "DELETE FROM transition_modes WHERE operation = ?", arguments: [operation.rawValue])
        }
    }

    func remember(_ operation: TransitionOperation, _ mode: TransitionMode?) {
        modes.withLock { $0[operation] = mode }
    }
}

/// What every write needs besides its transaction: durations, modes, the storage catalogue and
/// the simulated hosts.
struct WriteEnvironment: Sendable {
    let durations: OperationDurations
    let modes: TransitionModes
    let catalogue: StorageCatalogue
    /// Simulated storage hosts drives are placed on (availability groups).
    let hosts: Int

    /// When a transition of `operation` started at `now` on a resource of `size` bytes falls due.
    func due(_ operation: TransitionOperation, size: Int64, now: Date) -> Double {
        TransitionMode.due(
            modes[operation], start: now.timeIntervalSince1970, configured: durations.seconds(operation, size: size))
    }
}
