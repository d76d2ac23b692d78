import DriveLifecycle
import DriveModel
import DriveStorage
import Foundation
import Synchronization
#if !POSTGRES
import GRDB
#endif

/// Named states (migration 0012): the rows of the account tables copied into their `saved_`
/// twins under a state id, and copied back in one transaction.
///
/// A load makes the live rows of the state's scope equal to the saved ones by difference: it
/// deletes the live rows the state lacks, updates those that differ and inserts those that are
/// missing, children before parents for deletes and parents before children for the rest. So the
/// tables' triggers keep doing their work (change events for the websocket, drive counts, content
/// references, tag clean-up), an unchanged row costs nothing, and a load right after a save
/// changes no row at all. Content is referenced, never copied: a state's drives and snapshots
/// count in `content_images.refs` like live ones.
public struct SQLStateRepository: StateRepository {
    let database: AppDatabase
    private let columns = ColumnCache()

    init(database: AppDatabase) {
        self.database = database
    }

    /// One table a state holds.
    struct Table: Sendable {
        let name: String
        /// The columns that name a row (not null: compared with `=`, through the indexes).
        let key: [String]
        /// Link tables: a row is the same only when every column is, and rows are deleted and
        /// inserted, never updated, so no unique index sees a half-moved row.
        var whole = false
        /// The live rows of one account: a condition on the table's columns where every `?` is the
        /// account's uuid; nil: the table belongs to the whole daemon, saved only with every
        /// account.
        let account: String?
        /// Columns whose saved value moves with the time of the load (`SHIFT` stands for the
        /// seconds since the save), so transitions and running jobs resume as they were.
        var shifted: [String: String] = [:]

        var accountParameters: Int { (account ?? "").filter { $0 == "?" }.count }
    }

    static let drivesOf = "drive_seq IN (SELECT seq FROM drives WHERE owner = ?)"
    /// Parents before children.
    static let tables: [Table] = [
        Table(name: "users", key: ["uuid"], account: nil),
        Table(name: "api_tokens", key: ["token_hash"], account: nil),
        Table(name: "network_allotment", key: ["id"], account: nil),
        Table(name: "profiles", key: ["user_uuid"], account: "user_uuid = ?"),
        Table(name: "ips", key: ["seq"], account: "owner = ?"),
        Table(name: "vlans", key: ["seq"], account: "owner = ?"),
        Table(name: "drives", key: ["seq"], account: "owner = ?"),
        Table(name: "drive_licenses", key: ["drive_seq", "position"], whole: true, account: drivesOf),
        Table(
            name: "jobs", key: ["seq"], account: "owner = ?",
            shifted: [
                "started_at": "CASE WHEN s.state = 'started' THEN s.started_at + SHIFT ELSE s.started_at END",
                "due_at": "CASE WHEN s.state = 'started' THEN s.due_at + SHIFT ELSE s.due_at END",
            ]),
        Table(name: "drive_jobs", key: ["drive_seq", "job_seq"], whole: true, account: drivesOf),
        Table(name: "servers", key: ["seq"], account: "owner = ?"),
        Table(name: "server_drives", key: ["server_seq", "position"], whole: true, account: "server_seq IN (SELECT seq FROM servers WHERE owner = ?)"),
        Table(name: "snapshots", key: ["seq"], account: "owner = ?"),
        Table(name: "tags", key: ["seq"], account: "owner = ?"),
        Table(name: "tag_resources", key: ["tag_seq", "res_uuid"], whole: true, account: "tag_seq IN (SELECT seq FROM tags WHERE owner = ?)"),
        Table(name: "uploads", key: ["drive_seq"], account: drivesOf),
        Table(name: "upload_ranges", key: ["drive_seq", "start"], whole: true, account: drivesOf),
        Table(
            name: "pending_transitions", key: ["resource_seq", "resource_kind", "operation"],
            account: """
                (resource_kind = 'drive' AND resource_seq IN (SELECT seq FROM drives WHERE owner = ?))
                OR (resource_kind = 'server' AND resource_seq IN (SELECT seq FROM servers WHERE owner = ?))
                OR (resource_kind = 'snapshot' AND resource_seq IN (SELECT seq FROM snapshots WHERE owner = ?))
                """,
            // Held transitions (manual mode) stay held.
            shifted: ["due_at": "CASE WHEN s.due_at >= \(TransitionMode.heldDue / 10) THEN s.due_at ELSE s.due_at + SHIFT END"]),
    ]

    /// The uuids (addresses for IPs) a per-account load would take from another account.
    static let uuidTables: [(table: String, column: String)] = [
        ("drives", "uuid"), ("servers", "uuid"), ("snapshots", "uuid"), ("tags", "uuid"), ("jobs", "uuid"),
        ("vlans", "uuid"), ("ips", "address"),
    ]

    /// The columns of the live tables (the schema does not change while the database is open).
    final class ColumnCache: Sendable {
        private let known = Mutex<[String: [String]]>([:])

        func columns(_ db: Database, _ table: String) throws -> [String] {
            if let found = known.withLock({ $0[table] }) { return found }
            let live = try String.fetchAll(db, sql: Dialect.tableColumns, arguments: [table])
            let saved = Set(try String.fetchAll(db, sql: Dialect.tableColumns, arguments: ["saved_" + table]))
            // A column the saved table lacks (added by a later migration that forgot it) is left
            // to its default on load rather than failing every save.
            let both = live.filter { saved.contains($0) }
            known.withLock { $0[table] = both }
            return both
        }
    }

    static func quoted(_ column: String) -> String { "\"\(column)\"" }

    // MARK: StateRepository

    public func save(name: String, account: String?, replace: Bool, now: Date) async throws -> SavedState {
        try StateName.check(name)
        let columns = self.columns
        let (state, replaced) = try await database.write { db -> (SavedState, Bool) in
            let existing = try Int64.fetchOne(db, sql: "SELECT id FROM states WHERE name = ?", arguments: [name])
            if let existing {
                guard replace else {
                    throw CloudSigmaError(
                        .conflict, point: "name", "A state named \(name) exists: delete it first, or save with replace")
                }
                try Self.deleteState(db, id: existing)
            }
            var owner: String?
            if let account {
                guard
                    let found = try String.fetchOne(
                        db, sql: "SELECT uuid FROM users WHERE uuid = ? OR email = ?", arguments: [account, account])
                else { throw CloudSigmaError(.notexist, point: "account", "No account \(account)") }
                owner = found
            }
            let id =
                try Int64.fetchOne(
                    db,
                    sql: """
                        INSERT INTO states (name, account, saved_at, created, drives, servers, snapshots, logical_bytes, stored_bytes)
                        VALUES (?, ?, ?, ?, 0, 0, 0, 0, 0) RETURNING id
                        """,
                    arguments: [name, owner, now.timeIntervalSince1970, Timestamp.string(now)]) ?? 0
            for table in Self.tables {
                var arguments: [any DatabaseValueConvertible] = [id]
                var condition = ""
                if let owner {
                    guard let scope = table.account else { continue }
                    condition = " WHERE \(scope)"
                    arguments += Array(repeating: owner, count: table.accountParameters)
                }
                let list = try columns.columns(db, table.name).map(Self.quoted).joined(separator: ", ")
                try db.execute(
                    sql: "INSERT INTO saved_\(table.name) (state_id, \(list)) SELECT ?, \(list) FROM \(table.name)\(condition)",
                    arguments: StatementArguments(arguments))
            }
            // The state's references keep its content images alive.
            try Self.moveReferences(db, state: id, by: "+")
            try db.execute(
                sql: """
                    UPDATE states SET
                        drives = (SELECT COUNT(*) FROM saved_drives WHERE state_id = ?),
                        servers = (SELECT COUNT(*) FROM saved_servers WHERE state_id = ?),
                        snapshots = (SELECT COUNT(*) FROM saved_snapshots WHERE state_id = ?),
                        logical_bytes = (SELECT COALESCE(SUM(size), 0) FROM saved_drives WHERE state_id = ?),
                        stored_bytes = (SELECT COALESCE(SUM(e.length), 0) FROM content_extents e WHERE e.image_id IN (
                            SELECT content_image FROM saved_drives WHERE state_id = ? AND content_image IS NOT NULL
                            UNION SELECT content_image FROM saved_snapshots WHERE state_id = ? AND content_image IS NOT NULL))
                    WHERE id = ?
                    """,
                arguments: [id, id, id, id, id, id, id])
            guard let saved = try Self.fetch(db, where: "s.id = ?", [id]).first else { throw CloudSigmaError.notExist(name) }
            return (saved, existing != nil)
        }
        // A replaced state may have dropped the last reference to an image.
        if replaced { database.signals.outbox.ring() }
        return state
    }

    public func list() async throws -> [SavedState] {
        try await database.read { db in try Self.fetch(db, where: "1 = 1", []) }
    }

    public func state(named name: String) async throws -> SavedState? {
        try await database.read { db in try Self.fetch(db, where: "s.name = ?", [name]).first }
    }

    public func delete(name: String) async throws -> Bool {
        let deleted = try await database.write { db -> Bool in
            guard let id = try Int64.fetchOne(db, sql: "SELECT id FROM states WHERE name = ?", arguments: [name]) else {
                return false
            }
            try Self.deleteState(db, id: id)
            return true
        }
        if deleted { database.signals.outbox.ring() }
        return deleted
    }

    public func load(name: String, now: Date) async throws -> StateLoadResult {
        let columns = self.columns
        let result = try await database.write { db -> StateLoadResult in
            guard let id = try Int64.fetchOne(db, sql: "SELECT id FROM states WHERE name = ?", arguments: [name]),
                let state = try Self.fetch(db, where: "s.id = ?", [id]).first
            else { throw CloudSigmaError(.notexist, point: "name", "No state named \(name)") }
            if let owner = state.account {
                guard try Int64.fetchOne(db, sql: "SELECT COUNT(*) FROM users WHERE uuid = ?", arguments: [owner]) == 1 else {
                    throw CloudSigmaError(.notexist, point: "account", "The state's account \(owner) no longer exists")
                }
                let taken = try Self.conflicts(db, state: id, owner: owner)
                guard taken.isEmpty else {
                    throw CloudSigmaError(
                        .conflict, point: "uuid",
                        "Other accounts hold \(taken.count) uuid(s) of state \(name); nothing was loaded: \(taken.joined(separator: ", "))")
                }
            }
            // Pending transitions and running jobs resume where they were, from now.
            let shift = String(max(0, now.timeIntervalSince1970 - state.savedAt))
            let tables = Self.tables.filter { state.account == nil || $0.account != nil }
            var deleted = 0
            var updated = 0
            var inserted = 0
            for table in tables.reversed() {
                let cols = try columns.columns(db, table.name)
                var arguments: [any DatabaseValueConvertible] = []
                var scope = ""
                if let owner = state.account, let condition = table.account {
                    scope = "(\(condition)) AND "
                    arguments = Array(repeating: owner, count: table.accountParameters)
                }
                arguments.append(id)
                try db.execute(
                    sql: """
                        DELETE FROM \(table.name) WHERE \(scope)NOT EXISTS (
                            SELECT 1 FROM saved_\(table.name) AS s WHERE s.state_id = ? AND \(Self.match(table, cols, live: table.name)))
                        """,
                    arguments: StatementArguments(arguments))
                deleted += db.changesCount
            }
            for table in tables {
                let cols = try columns.columns(db, table.name)
                func value(_ column: String) -> String {
                    table.shifted[column].map { $0.replacingOccurrences(of: "SHIFT", with: "CAST(\(shift) AS DOUBLE PRECISION)") }
                        ?? "s.\(Self.quoted(column))"
                }
                let rest = cols.filter { !table.key.contains($0) }
                if !table.whole, !rest.isEmpty {
                    let assignments = rest.map { "\(Self.quoted($0)) = \(value($0))" }.joined(separator: ", ")
                    let live = rest.map { "\(table.name).\(Self.quoted($0))" }.joined(separator: ", ")
                    let saved = rest.map(value).joined(separator: ", ")
                    try db.execute(
                        sql: """
                            UPDATE \(table.name) SET \(assignments) FROM saved_\(table.name) AS s
                            WHERE s.state_id = ? AND \(Self.match(table, cols, live: table.name))
                              AND (\(live)) IS DISTINCT FROM (\(saved))
                            """,
                        arguments: [id])
                    updated += db.changesCount
                }
                let list = cols.map(Self.quoted).joined(separator: ", ")
                try db.execute(
                    sql: """
                        INSERT INTO \(table.name) (\(list)) SELECT \(cols.map(value).joined(separator: ", "))
                        FROM saved_\(table.name) AS s
                        WHERE s.state_id = ? AND NOT EXISTS (SELECT 1 FROM \(table.name) AS t WHERE \(Self.match(table, cols, live: "t")))
                        """,
                    arguments: [id])
                inserted += db.changesCount
            }
            return StateLoadResult(state: state, deleted: deleted, updated: updated, inserted: inserted)
        }
        // Transitions were re-timed; images nothing references any more are to be removed.
        database.signals.transitions.ring()
        database.signals.outbox.ring()
        return result
    }

    // MARK: Helpers

    /// The condition that the saved row `s` is the live row `live`: by key, and for link tables
    /// every other column too.
    static func match(_ table: Table, _ columns: [String], live: String) -> String {
        let key = table.key.map { "s.\(quoted($0)) = \(live).\(quoted($0))" }
        guard table.whole else { return key.joined(separator: " AND ") }
        let rest = columns.filter { !table.key.contains($0) }.map { "s.\(quoted($0)) IS NOT DISTINCT FROM \(live).\(quoted($0))" }
        return (key + rest).joined(separator: " AND ")
    }

    /// Adds (`+`) or takes back (`-`) the state's references to content images; an image left
    /// with none is removed by its trigger, its files queued in the outbox.
    static func moveReferences(_ db: Database, state id: Int64, by sign: String) throws {
        try db.execute(
            sql: """
                UPDATE content_images SET refs = refs \(sign) r.n
                FROM (SELECT u.image AS image, COUNT(*) AS n FROM (
                        SELECT content_image AS image FROM saved_drives WHERE state_id = ? AND content_image IS NOT NULL
                        UNION ALL
                        SELECT content_image AS image FROM saved_snapshots WHERE state_id = ? AND content_image IS NOT NULL) AS u
                      GROUP BY u.image) AS r
                WHERE content_images.id = r.image
                """,
            arguments: [id, id])
    }

    static func deleteState(_ db: Database, id: Int64) throws {
        try moveReferences(db, state: id, by: "-")
        for table in tables {
            try db.execute(sql: "DELETE FROM saved_\(table.name) WHERE state_id = ?", arguments: [id])
        }
        try db.execute(sql: "DELETE FROM states WHERE id = ?", arguments: [id])
    }

    /// Up to 100 of the state's uuids that live rows of other accounts hold.
    static func conflicts(_ db: Database, state id: Int64, owner: String) throws -> [String] {
        var arguments: [any DatabaseValueConvertible] = []
        var parts: [String] = []
        for (table, column) in uuidTables {
            parts.append(
                "SELECT s.\(column) AS taken FROM saved_\(table) s JOIN \(table) l ON l.\(column) = s.\(column) WHERE s.state_id = ? AND l.owner <> ?"
            )
            parts.append(
                "SELECT s.\(column) AS taken FROM saved_\(table) s JOIN \(table) l ON l.seq = s.seq WHERE s.state_id = ? AND l.owner <> ?")
            arguments += [id, owner, id, owner]
        }
        return try String.fetchAll(
            db, sql: "SELECT DISTINCT taken FROM (\(parts.joined(separator: " UNION ALL "))) AS c ORDER BY taken LIMIT 100",
            arguments: StatementArguments(arguments))
    }

    static func fetch(_ db: Database, where condition: String, _ arguments: [any DatabaseValueConvertible]) throws -> [SavedState] {
        try Row.fetchAll(
            db,
            sql: """
                SELECT s.name, s.account, u.email, s.created, s.saved_at, s.drives, s.servers, s.snapshots, s.logical_bytes, s.stored_bytes
                FROM states s LEFT JOIN users u ON u.uuid = s.account
                WHERE \(condition) ORDER BY s.name
                """,
            arguments: StatementArguments(arguments)
        ).map { row in
            SavedState(
                name: row[0], account: row[1], accountEmail: row[2], created: row[3], savedAt: row[4], drives: row[5],
                servers: row[6], snapshots: row[7], logicalBytes: row[8], storedBytes: row[9])
        }
    }
}
