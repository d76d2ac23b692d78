import DriveLifecycle
import Foundation
import GRDB
import Synchronization

/// How the transitions of each operation complete, the way moto's state manager works:
/// `immediate` (the worker's next tick), `time` (after a fixed number of seconds) or `manual`
/// (held until `advance`). Operations without a mode use the configured durations.
public final class TransitionControl: Sendable {
    public enum Operation: String, Sendable, CaseIterable {
        case create, resize, clone, start, stop
    }

    public enum Mode: Sendable, Equatable {
        case immediate
        case time(seconds: Double)
        case manual

        public var name: String {
            switch self {
            case .immediate: "immediate"
            case .time: "time"
            case .manual: "manual"
            }
        }
    }

    /// The due time of a held (manual) transition: far in the future, until advanced.
    public static let heldDue: Double = 1e15

    let database: AppDatabase
    let modes = Mutex<[Operation: Mode]>([:])

    /// Loads the stored modes.
    public init(database: AppDatabase) throws {
        self.database = database
        let stored = try database.readSync { db in
            try Row.fetchAll(db, sql: "SELECT operation, mode, seconds FROM transition_modes")
        }
        var loaded: [Operation: Mode] = [:]
        for row in stored {
            guard let op = Operation(rawValue: row["operation"]) else { continue }
            switch row["mode"] as String {
            case "immediate": loaded[op] = .immediate
            case "manual": loaded[op] = .manual
            default: loaded[op] = .time(seconds: row["seconds"] ?? 0)
            }
        }
        modes.withLock { $0 = loaded }
    }

    /// The mode of `operation`, nil when it follows the configured durations.
    public func mode(_ operation: Operation) -> Mode? { modes.withLock { $0[operation] } }

    public var all: [Operation: Mode] { modes.withLock { $0 } }

    /// Sets (or, with nil, clears) the mode of `operation`, durably.
    public func set(_ operation: Operation, _ mode: Mode?) async throws {
        try await database.write { db in
            if let mode {
                var seconds: Double?
                if case .time(let s) = mode { seconds = s }
                try db.execute(
                    sql: "INSERT OR REPLACE INTO transition_modes (operation, mode, seconds) VALUES (?, ?, ?)",
                    arguments: [operation.rawValue, mode.name, seconds])
            } else {
                try db.execute(sql: "DELETE FROM transition_modes WHERE operation = ?", arguments: [operation.rawValue])
            }
        }
        modes.withLock { $0[operation] = mode }
    }

    /// When a transition of `operation` started at `now` falls due; `configured` is the duration
    /// from configuration (already scaled).
    public func due(_ operation: Operation, now: Date, configured: Double) -> Double {
        let start = now.timeIntervalSince1970
        switch mode(operation) {
        case nil: return start + configured
        case .immediate: return start
        case .time(let seconds): return start + max(0, seconds)
        case .manual: return Self.heldDue
        }
    }

    /// Releases held transitions (all, or those of one operation, or of one drive or server):
    /// they complete on the worker's next tick. Returns how many were released.
    public func advance(operation: Operation?, uuid: String?, now: Date = Date()) async throws -> Int {
        try await database.write { db in
            var released = 0
            let driveOps: [Operation] = [.create, .resize, .clone]
            if operation.map(driveOps.contains) ?? true {
                var filter = "due_at >= ?"
                var args: [any DatabaseValueConvertible] = [Self.heldDue / 10]
                if let operation { filter += " AND operation = ?"; args.append(operation.rawValue) }
                if let uuid { filter += " AND drive_seq = (SELECT seq FROM drives WHERE uuid = ?)"; args.append(uuid) }
                // The jobs of released clones run out now too.
                try db.execute(
                    sql: "UPDATE jobs SET due_at = ? WHERE seq IN (SELECT job_seq FROM transitions WHERE \(filter))",
                    arguments: StatementArguments([now.timeIntervalSince1970] + args))
                try db.execute(
                    sql: "UPDATE transitions SET due_at = ? WHERE \(filter)",
                    arguments: StatementArguments([now.timeIntervalSince1970] + args))
                released += db.changesCount
            }
            if operation.map({ !driveOps.contains($0) }) ?? true {
                var sql = "UPDATE server_transitions SET due_at = ? WHERE due_at >= ?"
                var args: [any DatabaseValueConvertible] = [now.timeIntervalSince1970, Self.heldDue / 10]
                if let operation { sql += " AND operation = ?"; args.append(operation.rawValue) }
                if let uuid { sql += " AND server_seq = (SELECT seq FROM servers WHERE uuid = ?)"; args.append(uuid) }
                try db.execute(sql: sql, arguments: StatementArguments(args))
                released += db.changesCount
            }
            return released
        }
    }
}
