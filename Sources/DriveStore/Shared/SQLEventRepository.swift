import DriveStorage
#if !POSTGRES
import GRDB
#endif

/// The change events the triggers of migration 0009 append in the transaction of each change.
public struct SQLEventRepository: EventRepository {
    let database: AppDatabase

    public init(database: AppDatabase) {
        self.database = database
    }

    public func latestEventID() async throws -> Int64 {
        try await database.readNow { db in
            try Int64.fetchOne(db.cachedStatement(sql: "SELECT COALESCE(MAX(id), 0) FROM change_events")) ?? 0
        }
    }

    public func events(after id: Int64, limit: Int) async throws -> [ChangeEvent] {
        try await database.read { db in
            try Row.fetchAll(
                db.cachedStatement(
                    sql: "SELECT id, owner, resource_type, uuid, deleted FROM change_events WHERE id > ? ORDER BY id LIMIT ?"),
                arguments: [id, limit]
            ).map { ChangeEvent(id: $0[0], owner: $0[1], resourceType: $0[2], uuid: $0[3], deleted: $0[4]) }
        }
    }

    public func deleteEvents(through id: Int64) async throws -> Int {
        let generation = database.generation
        return try await database.write { db in
            // Published events are no answer's data: cached answers stay current.
            generation.scopeCommit(to: [])
            #if POSTGRES
            // Other processes may not have published them yet: they go once older than
            // `PostgresAppDatabase.eventRetention`.
            try db.run(
                sql: "DELETE FROM change_events WHERE id <= ? AND created_at < extract(epoch FROM clock_timestamp()) - ?",
                arguments: [id, PostgresAppDatabase.eventRetention])
            #else
            try db.run(sql: "DELETE FROM change_events WHERE id <= ?", arguments: [id])
            #endif
            return db.changesCount
        }
    }

    public func addListeners(_ delta: Int) async throws {
        try await setListeners("UPDATE event_listeners SET count = \(Dialect.greatest)(0, count + ?) WHERE id = 1", [delta])
    }

    public func resetListeners() async throws {
        #if POSTGRES
        // Only a process serving alone may forget the counts: another one's subscribers are
        // counted there too (see `PostgresAppDatabase.joinServers`).
        guard database.servesAlone else { return }
        #endif
        try await setListeners("UPDATE event_listeners SET count = 0 WHERE id = 1", [])
    }

    private func setListeners(_ sql: String, _ arguments: StatementArguments) async throws {
        let generation = database.generation
        try await database.write { db in
            generation.scopeCommit(to: [])
            try db.run(sql: sql, arguments: arguments)
        }
    }
}
