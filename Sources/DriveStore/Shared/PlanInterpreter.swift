import DriveLifecycle
import DriveModel
import DriveStorage
import Foundation
#if !POSTGRES
import GRDB
#endif
import Synchronization

/// Carries the state machine's plans out inside one write transaction. The only code that changes
/// a status, schedules a transition or starts a job: every change is a compare-and-swap guarded by
/// the status the machine saw, so a concurrent change fails the request instead of being lost.
struct PlanInterpreter {
    let db: Database
    let env: WriteEnvironment
    let now: Date
    let stamp: String
    let afterCommit: AfterCommit

    init(_ db: Database, env: WriteEnvironment, now: Date, afterCommit: AfterCommit) {
        self.db = db
        self.env = env
        self.now = now
        self.stamp = Timestamp.string(now)
        self.afterCommit = afterCommit
    }

    /// A drive as the interpreter needs it.
    struct DriveRow: Sendable {
        var seq: Int64
        var uuid: String
        var status: DriveStatus
        var size: Int64
        var storageType: String
    }

    // MARK: Compare-and-swap

    /// `UPDATE <table> SET status = to, updated_at = now, <sets> WHERE seq = ? AND status = from`;
    /// a conflict unless exactly that row changed. The SQL text depends only on the columns set,
    /// so its prepared statement is reused.
    func compareAndSwap(
        _ kind: ResourceKind, seq: Int64, uuid: String, from: String, to: String,
        sets: [(column: String, value: (any DatabaseValueConvertible)?)] = []
    ) throws {
        if sets.isEmpty {
            try db.run(sql: Self.plainSwap(kind), arguments: [to, stamp, seq, from])
        } else {
            var sql = "UPDATE \(Self.table(kind)) SET status = ?, updated_at = ?"
            var arguments: [(any DatabaseValueConvertible)?] = [to, stamp]
            for (column, value) in sets {
                sql += ", \(column) = ?"
                arguments.append(value)
            }
            sql += " WHERE seq = ? AND status = ?"
            arguments += [seq, from]
            try db.run(sql: sql, arguments: StatementArguments(arguments))
        }
        guard db.changesCount == 1 else { throw StoreError.conflict("\(kind.rawValue) \(uuid)") }
    }

    /// Deletes a resource, guarded by its status like every other change.
    func remove(_ kind: ResourceKind, seq: Int64, uuid: String, from status: String) throws {
        try db.run(sql: "DELETE FROM \(Self.table(kind)) WHERE seq = ? AND status = ?", arguments: [seq, status])
        guard db.changesCount == 1 else { throw StoreError.conflict("\(kind.rawValue) \(uuid)") }
        // A drive's content image may have lost its last reference (a trigger queued its removal).
        if kind == .drive || kind == .snapshot { afterCommit.ring(.outbox) }
    }

    /// The compare-and-swap of the status alone, the worker's common case.
    static func plainSwap(_ kind: ResourceKind) -> String {
        switch kind {
        case .drive: "UPDATE drives SET status = ?, updated_at = ? WHERE seq = ? AND status = ?"
        case .server: "UPDATE servers SET status = ?, updated_at = ? WHERE seq = ? AND status = ?"
        case .snapshot: "UPDATE snapshots SET status = ?, updated_at = ? WHERE seq = ? AND status = ?"
        }
    }

    static func table(_ kind: ResourceKind) -> String {
        switch kind {
        case .drive: "drives"
        case .server: "servers"
        case .snapshot: "snapshots"
        }
    }

    // MARK: Drives

    /// Carries out `plan` on `drive`, writing `sets` (the request's other columns) in the same
    /// compare-and-swap. `payload` goes with the transition the plan schedules. Returns the
    /// drive's status afterwards.
    @discardableResult
    func carryOut(
        _ plan: DrivePlan, on drive: DriveRow, sets: [(column: String, value: (any DatabaseValueConvertible)?)] = [],
        payload: [String: JSONValue] = [:], transitionSize: Int64? = nil
    ) throws -> DriveStatus {
        if plan.remove {
            try remove(.drive, seq: drive.seq, uuid: drive.uuid, from: drive.status.rawValue)
            return drive.status
        }
        let target = plan.status ?? drive.status
        try compareAndSwap(.drive, seq: drive.seq, uuid: drive.uuid, from: drive.status.rawValue, to: target.rawValue, sets: sets)
        if let operation = plan.schedule {
            try schedule(
                seq: drive.seq, operation: operation, from: target.rawValue, size: transitionSize ?? drive.size,
                payload: payload)
        }
        return target
    }

    /// What the state machine needs to know about drive `seq` in `status`. `mounted: false` says
    /// the caller already knows no server lists the drive (the mount query is skipped).
    func driveContext(
        seq: Int64, status: DriveStatus, storageType: String? = nil, completing: TransitionOperation? = nil,
        mounted: Bool = true
    ) throws -> DriveLifecycle.Context {
        let mounts = mounted ? try Relations.mountSummary(db, driveSeq: seq) : (count: 0, running: false)
        var context = DriveLifecycle.Context(
            status: status, mountCount: mounts.count, onRunningServer: mounts.running,
            ephemeral: storageType.map(DriveRules.isEphemeral) ?? false, completing: completing)
        if status == .cloningSource {
            context.activeClonesFromHere =
                try Int.fetchOne(
                    db.cachedStatement(sql: "SELECT COUNT(*) FROM pending_transitions WHERE source_seq = ?"), arguments: [seq])
                ?? 0
        }
        return context
    }

    /// The drive `seq`, as the interpreter needs it; nil when it is gone.
    func driveRow(seq: Int64) throws -> DriveRow? {
        try Row.fetchOne(
            db.cachedStatement(sql: "SELECT uuid, status, size, storage_type FROM drives WHERE seq = ?"), arguments: [seq]
        ).map {
            DriveRow(
                seq: seq, uuid: $0[0], status: DriveStatus(rawValue: $0[1]) ?? .unavailable, size: $0[2], storageType: $0[3])
        }
    }

    /// Asks the state machine what `operation` does to drive `drive` now and carries it out.
    /// Returns the status afterwards (nil: the operation was ignored); throws a refusal.
    @discardableResult
    func apply(_ operation: DriveLifecycle.Operation, to drive: DriveRow) throws -> DriveStatus? {
        let context = try driveContext(seq: drive.seq, status: drive.status, storageType: drive.storageType)
        guard let plan = try DriveLifecycle.plan(operation, in: context).plan() else { return nil }
        return try carryOut(plan, on: drive)
    }

    // MARK: Servers

    /// Carries out `plan` on server `seq`.
    func carryOut(
        _ plan: ServerPlan, onServer seq: Int64, uuid: String, status: ServerStatus,
        sets: [(column: String, value: (any DatabaseValueConvertible)?)] = []
    ) throws {
        if plan.remove {
            try remove(.server, seq: seq, uuid: uuid, from: status.rawValue)
            return
        }
        var sets = sets
        if let active = plan.activeSince { sets.append(("active_since", active ? stamp : nil)) }
        let target = plan.status ?? status
        try compareAndSwap(.server, seq: seq, uuid: uuid, from: status.rawValue, to: target.rawValue, sets: sets)
        if let operation = plan.schedule {
            try schedule(seq: seq, operation: operation, from: target.rawValue, size: 0)
        }
    }

    // MARK: Transitions and jobs

    /// Adds a pending transition of `operation` on resource `seq` (of the kind the operation
    /// belongs to; replacing one of the same operation), due after the operation's duration (or
    /// its admin mode); the worker is rung after the commit.
    func schedule(
        seq: Int64, operation: TransitionOperation, from status: String, size: Int64,
        payload: [String: JSONValue] = [:], source: Int64? = nil, job: Int64? = nil
    ) throws {
        try db.run(
            sql: """
                INSERT INTO pending_transitions (resource_kind, resource_seq, operation, from_status, due_at,
                                                 payload, source_seq, job_seq)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (resource_seq, resource_kind, operation) DO UPDATE SET
                    from_status = excluded.from_status, due_at = excluded.due_at, payload = excluded.payload,
                    source_seq = excluded.source_seq, job_seq = excluded.job_seq
                """,
            arguments: [
                operation.resource.rawValue, seq, operation.rawValue, status, env.due(operation, size: size, now: now),
                payload.isEmpty ? "{}" : JSONValue.object(payload).jsonString, source, job,
            ])
        afterCommit.ring(.transitions)
    }

    /// `schedule` for resources that have no pending transition yet (new drives), in one
    /// multi-row INSERT (at most a hundred).
    func scheduleNew(_ resources: [(seq: Int64, from: String, size: Int64)], operation: TransitionOperation) throws {
        guard !resources.isEmpty else { return }
        var arguments: [(any DatabaseValueConvertible)?] = []
        arguments.reserveCapacity(resources.count * 5)
        for resource in resources {
            arguments += [
                operation.resource.rawValue, resource.seq, operation.rawValue, resource.from,
                env.due(operation, size: resource.size, now: now),
            ]
        }
        let rows = Array(repeating: "(?, ?, ?, ?, ?, '{}', NULL, NULL)", count: resources.count).joined(separator: ", ")
        try db.run(
            sql: """
                INSERT INTO pending_transitions (resource_kind, resource_seq, operation, from_status, due_at,
                                                 payload, source_seq, job_seq)
                VALUES \(rows)
                """,
            arguments: StatementArguments(arguments))
        afterCommit.ring(.transitions)
    }

    /// Starts a job of `kind` on `resources` (URIs), running until `due` for its progress;
    /// returns (seq, uuid).
    func startJob(_ kind: JobKind, owner: String, resources: [String], due: Double) throws -> (seq: Int64, uuid: String) {
        let uuid = Identifiers.make(now: now)
        let start = now.timeIntervalSince1970
        let seq = try Int64.fetchOne(db.cachedStatement(sql: """
                INSERT INTO jobs (uuid, owner, operation, state, resources, started_at, due_at, created,
                                  last_modified, last_modified_at)
                VALUES (?, ?, ?, 'started', ?, ?, ?, ?, ?, ?) RETURNING seq
                """),
            arguments: [uuid, owner, kind.rawValue, Codec.encode(resources), start, due, stamp, stamp, start])
        return (seq ?? 0, uuid)
    }

    /// Marks job `seq` finished.
    func finishJob(_ seq: Int64) throws {
        try db.run(
            sql: """
                UPDATE jobs SET state = 'success', last_modified = ?, last_modified_at = ?
                WHERE seq = ? AND state = 'started'
                """,
            arguments: [stamp, now.timeIntervalSince1970, seq])
    }

    /// A pending transition as the worker reads it, with its resource's row as the same query read
    /// it (nil: the worker reads it itself).
    struct Pending: Sendable {
        var drive: DriveRow?
        /// Whether a server lists the drive (nil: unknown).
        var mounted: Bool?
        var kind: ResourceKind
        var seq: Int64
        var operation: TransitionOperation
        var fromStatus: String
        var payload: String
        var sourceSeq: Int64?
        var jobSeq: Int64?
    }

    /// The status the completion of a create transition gives a drive in `status` that is on no
    /// server, when that completion changes nothing but the status; nil when its plan does more.
    static func creationTarget(status: DriveStatus, storageType: String) -> DriveStatus? {
        let context = DriveLifecycle.Context(
            status: status, mountCount: 0, onRunningServer: false, ephemeral: DriveRules.isEphemeral(storageType), completing: .create)
        guard case .carryOut(let plan) = DriveLifecycle.plan(.complete, in: context), !plan.remove, plan.schedule == nil,
            plan.spawn == nil, let target = plan.status, target != status
        else { return nil }
        return target
    }

    /// The status a new drive is stored in when its create transition completes in the creating
    /// transaction: when the transition is due as soon as it starts (`time_scale` 0, or the
    /// admin's `immediate` mode for creates) and its completion changes nothing but the status.
    /// Clients see what the worker's completion a few milliseconds later would show them: the
    /// create answers `creating` (the status of the drive it made), every read after its commit
    /// the resting status. Nil: the create schedules its transition for the worker.
    func completedCreation(of drive: Drive) -> DriveStatus? {
        guard let operation = DriveLifecycle.create.schedule, drive.status == .creating,
            env.due(operation, size: drive.size, now: now) <= now.timeIntervalSince1970
        else { return nil }
        return Self.creationTarget(status: drive.status, storageType: drive.storageType)
    }

    /// Completes the create transitions of `drives` (each `creating`, on no server, with nothing
    /// else to its transition) as `complete` would one by one, in one DELETE and one
    /// compare-and-swap UPDATE per target status for each hundred; returns their seqs. A drive
    /// whose plan is more than a status change is left out, for `complete`.
    func completeCreations(_ drives: [DriveRow]) throws -> Set<Int64> {
        var byTarget: [DriveStatus: [DriveRow]] = [:]
        for drive in drives {
            guard let target = Self.creationTarget(status: drive.status, storageType: drive.storageType) else { continue }
            byTarget[target, default: []].append(drive)
        }
        var done = Set<Int64>()
        for (target, group) in byTarget {
            for start in stride(from: 0, to: group.count, by: 100) {
                let part = group[start..<min(start + 100, group.count)]
                let seqs = part.map(\.seq)
                let marks = Relations.placeholders(seqs.count)
                try db.run(
                    sql: "DELETE FROM pending_transitions WHERE resource_kind = 'drive' AND operation = 'create' AND resource_seq IN (\(marks))",
                    arguments: StatementArguments(seqs))
                try db.run(
                    sql: "UPDATE drives SET status = ?, updated_at = ? WHERE status = 'creating' AND seq IN (\(marks))",
                    arguments: StatementArguments([target.rawValue, stamp] + seqs.map { $0 as any DatabaseValueConvertible }))
                guard db.changesCount == seqs.count else { throw StoreError.conflict("drives completing creation") }
                done.formUnion(seqs)
            }
        }
        return done
    }

    /// Deletes one pending transition by its key.
    static func forget(_ db: Database, kind: String, seq: Int64, operation: String) throws {
        try db.run(
            sql: "DELETE FROM pending_transitions WHERE resource_kind = ? AND resource_seq = ? AND operation = ?",
            arguments: [kind, seq, operation])
    }

    /// Completes pending transition `pending` through the state machine; returns whether its
    /// resource's status moved. A transition whose resource left the status it was scheduled from
    /// is stale: it is dropped, releasing its job and source all the same.
    func complete(_ pending: Pending) throws -> Bool {
        try Self.forget(db, kind: pending.kind.rawValue, seq: pending.seq, operation: pending.operation.rawValue)
        switch pending.kind {
        case .snapshot:
            guard
                let row = try Row.fetchOne(
                    db.cachedStatement(sql: "SELECT uuid, status FROM snapshots WHERE seq = ?"), arguments: [pending.seq]),
                row[1] as String == pending.fromStatus, let status = SnapshotStatus(rawValue: row[1]),
                case .carryOut(let plan) = SnapshotLifecycle.plan(.complete, in: status), let next = plan.status
            else { return false }
            try compareAndSwap(.snapshot, seq: pending.seq, uuid: row[0], from: status.rawValue, to: next.rawValue)
            return next != status
        case .server:
            guard
                let row = try Row.fetchOne(
                    db.cachedStatement(sql: "SELECT uuid, status FROM servers WHERE seq = ?"), arguments: [pending.seq]),
                row[1] as String == pending.fromStatus, let status = ServerStatus(rawValue: row[1]),
                case .carryOut(let plan) = ServerLifecycle.plan(.complete, in: status)
            else { return false }
            try carryOut(plan, onServer: pending.seq, uuid: row[0], status: status)
            return plan.status != nil && plan.status != status
        case .drive:
            guard let drive = try pending.drive ?? driveRow(seq: pending.seq) else { return false }
            let context = try driveContext(
                seq: drive.seq, status: drive.status, completing: pending.operation, mounted: pending.mounted ?? true)
            var completion = DrivePlan.Completion(finishJob: true, completeSource: true)
            var moved = false
            if drive.status.rawValue == pending.fromStatus, case .carryOut(let plan) = DriveLifecycle.plan(.complete, in: context) {
                completion = plan.completion ?? DrivePlan.Completion()
                var sets: [(column: String, value: (any DatabaseValueConvertible)?)] = []
                if completion.applyPayload, case .int(let size)? = Codec.decodeObject(pending.payload)["size"] {
                    sets.append(("size", size))
                }
                moved = try carryOut(plan, on: drive, sets: sets) != drive.status
            }
            if completion.finishJob, let job = pending.jobSeq { try finishJob(job) }
            if completion.completeSource, let source = pending.sourceSeq, let row = try driveRow(seq: source) {
                // The source leaves `cloning_src` once no other clone copies from it; in any
                // other status it has nothing to complete.
                let context = try driveContext(seq: source, status: row.status, completing: .clone)
                if case .carryOut(let plan) = DriveLifecycle.plan(.complete, in: context) {
                    try carryOut(plan, on: row)
                }
            }
            return moved
        }
    }
}

extension AppDatabase {
    /// One write transaction with a plan interpreter.
    func interpret<T: Sendable>(
        _ env: WriteEnvironment, now: Date, _ body: @Sendable @escaping (PlanInterpreter) throws -> T
    ) async throws -> T {
        let afterCommit = self.afterCommit
        return try await write { db in try body(PlanInterpreter(db, env: env, now: now, afterCommit: afterCommit)) }
    }

    /// The same, in a savepoint of the next group commit: `body` changes account `owner`'s data
    /// only (see `groupWrite`).
    func interpret<T: Sendable>(
        _ env: WriteEnvironment, now: Date, groupedFor owner: String,
        _ body: @Sendable @escaping (PlanInterpreter) throws -> T
    ) async throws -> T {
        let afterCommit = self.afterCommit
        return try await groupWrite(owner: owner) { db in
            try body(PlanInterpreter(db, env: env, now: now, afterCommit: afterCommit))
        }
    }
}
