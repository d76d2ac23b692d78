import DriveModel
import DriveStorage
import Foundation
#if !POSTGRES
import GRDB
#endif

/// The after-commit outbox in SQLite: effects are rows written in the transaction of the change
/// that calls for them (``Outbox/record(_:effect:payload:afterCommit:now:)``), so they exist if
/// and only if the change committed; the outbox runner carries them out and deletes them.
public struct SQLOutboxRepository: OutboxRepository {
    let database: AppDatabase

    public init(database: AppDatabase) {
        self.database = database
    }

    public func pending(limit: Int) async throws -> [OutboxEntry] {
        try await database.read { db in
            try Row.fetchAll(
                db.cachedStatement(sql: "SELECT id, effect, payload, attempts FROM outbox ORDER BY id LIMIT ?"),
                arguments: [limit]
            ).map { OutboxEntry(id: $0[0], effect: $0[1], payload: $0[2], attempts: $0[3]) }
        }
    }

    public func markDone(_ id: Int64) async throws {
        try await database.write { db in
            try db.run(sql: "DELETE FROM outbox WHERE id = ?", arguments: [id])
        }
    }

    public func markFailed(_ id: Int64, error: String) async throws {
        try await database.write { db in
            try db.run(sql: "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?", arguments: [error, id])
        }
    }
}

enum Outbox {
    /// Records `effect` in the caller's transaction; the runner is rung once it commits.
    static func record(
        _ db: Database, effect: String, payload: JSONValue, afterCommit: AfterCommit, now: Date = Date()
    ) throws {
        try db.run(
            sql: "INSERT INTO outbox (effect, payload, created_at) VALUES (?, ?, ?)",
            arguments: [effect, payload.jsonString, now.timeIntervalSince1970])
        afterCommit.ring(.outbox)
    }
}

extension PlanInterpreter {
    /// Records an effect to carry out after this transaction commits.
    func record(effect: String, payload: JSONValue) throws {
        try Outbox.record(db, effect: effect, payload: payload, afterCommit: afterCommit, now: now)
    }
}
