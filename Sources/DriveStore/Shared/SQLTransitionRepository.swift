import DriveLifecycle
import DriveModel
import DriveStorage
import Foundation
#if !POSTGRES
import GRDB
#endif

/// The one pipeline of pending transitions in SQLite (`pending_transitions`): drives and servers
/// alike, completed through the plan interpreter, and the admin modes that time them.
public struct SQLTransitionRepository: TransitionRepository {
    let database: AppDatabase
    let env: WriteEnvironment

    init(database: AppDatabase, env: WriteEnvironment) {
        self.database = database
        self.env = env
    }

    /// PostgreSQL: several processes run a worker on one database; each claims the due rows it
    /// completes (`FOR UPDATE … SKIP LOCKED`, inside the write transaction that completes and
    /// deletes them), so a transition completes exactly once, in whichever process claims it.
    public func completeDue(now: Date, limit: Int) async throws -> CompletedTransitions {
        // Look first (a reader, an index probe): an idle worker takes no write lock.
        guard
            try await database.exists(
                sql: "SELECT 1 FROM pending_transitions WHERE due_at <= ? LIMIT 1", arguments: [now.timeIntervalSince1970])
        else { return CompletedTransitions() }
        let generation = database.generation
        return try await database.interpret(env, now: now) { interpreter in
            let db = interpreter.db
            let rows = try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        SELECT t.resource_kind, t.resource_seq, t.operation, t.from_status, t.payload, t.source_seq,
                               t.job_seq, COALESCE(d.uuid, s.uuid), COALESCE(d.owner, s.owner), d.status, d.size,
                               d.storage_type, EXISTS(SELECT 1 FROM server_drives x WHERE x.drive_seq = d.seq)
                        FROM pending_transitions t
                        LEFT JOIN drives d ON t.resource_kind = 'drive' AND d.seq = t.resource_seq
                        LEFT JOIN servers s ON t.resource_kind = 'server' AND s.seq = t.resource_seq
                        WHERE t.due_at <= ? ORDER BY t.due_at LIMIT ?
                        \(Dialect.claimDue)
                        """),
                arguments: [now.timeIntervalSince1970, limit])
            // A completion changes its resource, a clone's source and job: all its owner's.
            generation.scopeCommit(to: Set(rows.compactMap { $0[8] as String? }))
            var moved: [String] = []
            // Drives an earlier completion of this pass changed (clone sources): read again.
            var changed = Set<Int64>()
            // Creations that only change a status go in a few statements for the whole pass.
            let batched = try interpreter.completeCreations(rows.compactMap(Self.plainCreation))
            for row in rows {
                if batched.contains(row[1] as Int64), row[2] as String == TransitionOperation.create.rawValue {
                    moved.append(row[7])
                    continue
                }
                guard let kind = ResourceKind(rawValue: row[0]), let operation = TransitionOperation(rawValue: row[2]) else {
                    try PlanInterpreter.forget(db, kind: row[0], seq: row[1], operation: row[2])
                    continue
                }
                let seq: Int64 = row[1]
                var drive: PlanInterpreter.DriveRow?
                if kind == .drive, !changed.contains(seq), let uuid = row[7] as String?, let status = row[9] as String? {
                    drive = PlanInterpreter.DriveRow(
                        seq: seq, uuid: uuid, status: DriveStatus(rawValue: status) ?? .unavailable, size: row[10],
                        storageType: row[11])
                }
                let pending = PlanInterpreter.Pending(
                    drive: drive, mounted: drive == nil ? nil : row[12] as Bool, kind: kind, seq: seq, operation: operation, fromStatus: row[3], payload: row[4],
                    sourceSeq: row[5], jobSeq: row[6])
                if try interpreter.complete(pending), let uuid = row[7] as String? { moved.append(uuid) }
                if let source = pending.sourceSeq { changed.insert(source) }
            }
            return CompletedTransitions(processed: rows.count, moved: moved)
        }
    }

    /// A due row that is a drive's creation and nothing else: the drive still `creating`, on no
    /// server, with no job, source or payload. (Its completion depends on no other row of the
    /// pass, and no other row on it: a creating drive cannot be cloned.)
    static func plainCreation(_ row: Row) -> PlanInterpreter.DriveRow? {
        guard row[0] as String == ResourceKind.drive.rawValue, row[2] as String == TransitionOperation.create.rawValue,
            let uuid = row[7] as String?, let status = row[9] as String?, status == DriveStatus.creating.rawValue,
            row[3] as String == status, row[5] as Int64? == nil, row[6] as Int64? == nil, row[4] as String == "{}",
            row[12] as Bool == false
        else { return nil }
        return PlanInterpreter.DriveRow(seq: row[1], uuid: uuid, status: .creating, size: row[10], storageType: row[11])
    }

    public func nextDue() async throws -> Double? {
        try await database.read { db in
            try Double.fetchOne(db.cachedStatement(sql: "SELECT MIN(due_at) FROM pending_transitions"))
        }
    }

    public func pendingCount() async throws -> Int {
        try await database.read { db in
            try Int.fetchOne(db.cachedStatement(sql: "SELECT COUNT(*) FROM pending_transitions")) ?? 0
        }
    }

    public func mode(_ operation: TransitionOperation) -> TransitionMode? { env.modes[operation] }

    public var modes: [TransitionOperation: TransitionMode] { env.modes.all }

    public func setMode(_ operation: TransitionOperation, _ mode: TransitionMode?) async throws {
        try await database.write { db in try TransitionModes.store(db, operation, mode) }
        env.modes.remember(operation, mode)
    }

    public func advance(operation: TransitionOperation?, uuid: String?, now: Date) async throws -> Int {
        let afterCommit = database.afterCommit
        return try await database.write { db in
            var filter = "due_at >= ?"
            var args: [any DatabaseValueConvertible] = [TransitionMode.heldDue / 10]
            if let operation {
                filter += " AND operation = ?"
                args.append(operation.rawValue)
            }
            if let uuid {
                filter += """
                     AND ((resource_kind = 'drive' AND resource_seq = (SELECT seq FROM drives WHERE uuid = ?))
                       OR (resource_kind = 'server' AND resource_seq = (SELECT seq FROM servers WHERE uuid = ?))
                       OR (resource_kind = 'snapshot' AND resource_seq = (SELECT seq FROM snapshots WHERE uuid = ?)))
                    """
                args += [uuid, uuid, uuid]
            }
            // The jobs of released clones run out now too.
            try db.execute(
                sql: "UPDATE jobs SET due_at = ? WHERE seq IN (SELECT job_seq FROM pending_transitions WHERE \(filter))",
                arguments: StatementArguments([now.timeIntervalSince1970] + args))
            try db.execute(
                sql: "UPDATE pending_transitions SET due_at = ? WHERE \(filter)",
                arguments: StatementArguments([now.timeIntervalSince1970] + args))
            let released = db.changesCount
            if released > 0 { afterCommit.ring(.transitions) }
            return released
        }
    }
}
