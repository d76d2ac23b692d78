import DriveModel
import DriveStorage
import Foundation
#if !POSTGRES
import GRDB
#endif

/// Jobs: read by the API, finished by the worker, purged after the retention period.
public struct SQLJobRepository: JobRepository {
    let database: AppDatabase

    public init(database: AppDatabase) {
        self.database = database
    }

    /// The caller's jobs, most recently modified first, optionally filtered by state.
    public func list(owner: String, states: [String], limit: Int?, offset: Int, now: Date) async throws -> (
        total: Int, jobs: [Job]
    ) {
        try await database.read { db in
            var whereSQL = "owner = ?"
            var args: [any DatabaseValueConvertible] = [owner]
            if !states.isEmpty {
                whereSQL += " AND state IN (\(Array(repeating: "?", count: states.count).joined(separator: ", ")))"
                args += states as [any DatabaseValueConvertible]
            }
            let total = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM jobs WHERE \(whereSQL)", arguments: StatementArguments(args)) ?? 0
            var sql = "SELECT * FROM jobs WHERE \(whereSQL) ORDER BY last_modified_at DESC, seq DESC"
            sql += Relations.page(limit: limit, offset: offset)
            let jobs = try Row.fetchAll(db, sql: sql, arguments: StatementArguments(args)).map { Self.job($0, now: now) }
            return (total, jobs)
        }
    }

    /// The caller's job `uuid`, or `404 notexist`.
    public func job(owner: String, uuid: String, now: Date) async throws -> Job {
        try await database.read { db in
            guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM jobs WHERE uuid = ? AND owner = ?"), arguments: [uuid, owner])
            else { throw CloudSigmaError.notExist(uuid) }
            return Self.job(row, now: now)
        }
    }

    /// Deletes finished jobs last modified before `cutoff` (their drive refs go with them).
    @discardableResult
    public func purge(finishedBefore cutoff: Date) async throws -> Int {
        try await database.write { db in
            try db.run(
                sql: "DELETE FROM jobs WHERE state != 'started' AND last_modified_at < ?",
                arguments: [cutoff.timeIntervalSince1970])
            return db.changesCount
        }
    }

    /// Progress runs from 0 at the start to 99 just before the due time; 100 once finished.
    static func job(_ row: Row, now: Date) -> Job {
        let state = Job.State(rawValue: row["state"]) ?? .failed
        var progress = 100
        if state == .started {
            let start: Double = row["started_at"], due: Double = row["due_at"]
            let fraction = due > start ? (now.timeIntervalSince1970 - start) / (due - start) : 1
            progress = Int(min(99, max(0, (fraction * 100).rounded(.down))))
        }
        return Job(
            uuid: row["uuid"], operation: row["operation"], state: state, progress: progress,
            resources: Codec.decodeStrings(row["resources"]), created: row["created"], lastModified: row["last_modified"])
    }
}
