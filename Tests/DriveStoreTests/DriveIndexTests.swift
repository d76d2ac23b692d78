import DriveLifecycle
import DriveModel
import DriveStorage
import Foundation
import GRDB
import Testing

@testable import DriveStore

/// Migration 0014: the drives table keeps three full indexes and a partial one by status (the
/// drives that are not unmounted); what read the two indexes it dropped reads others, with the
/// same answers.
@Suite("Drive indexes (migration 0014)")
struct DriveIndexTests {
    /// The drives' statuses counted straight from the rows, without any index.
    static func countedFromRows(_ env: StoreEnv) throws -> [String: Int] {
        try env.database.readSync { db in
            var out: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT status, COUNT(*) FROM drives NOT INDEXED GROUP BY status") {
                out[row[0]] = row[1]
            }
            return out
        }
    }

    @Test("the drives table has the indexes of schema 0014: no host index, the one by status partial")
    func schema() throws {
        let env = try StoreEnv.make()
        defer { env.remove() }
        let indexes = try env.database.readSync { db in
            try Row.fetchAll(db, sql: "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'drives' ORDER BY name")
                .map { (name: $0[0] as String, sql: $0[1] as String?) }
        }
        #expect(indexes.map(\.name) == ["drives_owner_name", "drives_owner_seq", "drives_status_not_unmounted", "sqlite_autoindex_drives_1"])
        #expect(indexes.first { $0.name == "drives_status_not_unmounted" }?.sql?.hasSuffix("WHERE status <> 'unmounted'") == true)
    }

    @Test("drives by status: the unmounted ones are the accounts' totals less the others, in every status mix")
    func statusCounts() async throws {
        // Creates stay `creating` until the worker completes them.
        let env = try StoreEnv.make(durations: OperationDurations(timeScale: 1))
        defer { env.remove() }
        let other = try env.database.addUser(email: "other@example.com", password: "pw", iterations: 1000).uuid
        #expect(try await env.stores.admin.stats().drivesByStatus.isEmpty)

        let mine = try await env.stores.drives.create(owner: env.owner, specs: (0..<6).map { StoreEnv.spec("m\($0)") })
        _ = try await env.stores.drives.create(owner: other, specs: (0..<3).map { StoreEnv.spec("o\($0)") })
        var stats = try await env.stores.admin.stats()
        #expect(stats.drivesByStatus == ["creating": 9])
        #expect(stats.drivesByStatus == (try Self.countedFromRows(env)))

        try await env.complete(now: Date().addingTimeInterval(3600))
        _ = try await env.stores.drives.create(owner: env.owner, specs: [StoreEnv.spec("late")])
        _ = try await env.stores.admin.setAvailability(driveUUID: mine[0].uuid, available: false, now: Date())
        try await env.stores.drives.delete(owner: env.owner, uuids: [mine[1].uuid])
        stats = try await env.stores.admin.stats()
        #expect(stats.drivesByStatus == ["unmounted": 7, "unavailable": 1, "creating": 1])
        #expect(stats.drivesByStatus == (try Self.countedFromRows(env)))

        _ = try await env.stores.admin.reset(account: nil)
        #expect(try await env.stores.admin.stats().drivesByStatus.isEmpty)
    }

    @Test("a status filter without unmounted is answered from the partial index, one with it from the account's")
    func statusFilter() async throws {
        let env = try StoreEnv.make(durations: OperationDurations(timeScale: 1))
        defer { env.remove() }
        let drives = try await env.stores.drives.create(owner: env.owner, specs: (0..<5).map { StoreEnv.spec("d\($0)") })
        try await env.complete(now: Date().addingTimeInterval(3600))
        let creating = try await env.stores.drives.create(owner: env.owner, specs: [StoreEnv.spec("c")])
        _ = try await env.stores.admin.setAvailability(driveUUID: drives[2].uuid, available: false, now: Date())

        func listed(_ statuses: [String]) async throws -> (total: Int, uuids: [String]) {
            var query = DriveQuery()
            query.statuses = statuses
            let (total, page) = try await env.stores.drives.list(owner: env.owner, query: query)
            return (total, page.map(\.uuid))
        }
        #expect(try await listed(["creating"]) == (1, creating.map(\.uuid)))
        #expect(try await listed(["unavailable", "creating"]) == (2, [drives[2].uuid] + creating.map(\.uuid)))
        let unmounted = [0, 1, 3, 4].map { drives[$0].uuid }
        #expect(try await listed(["unmounted"]) == (4, unmounted))
        #expect(try await listed(["unmounted", "creating"]) == (5, unmounted + creating.map(\.uuid)))

        // The plans: SQLite uses a partial index only when the query names its condition.
        func plan(_ statuses: [String]) throws -> String {
            var query = DriveQuery()
            query.statuses = statuses
            let (clauses, args) = query.whereClauses(alias: "d", owner: env.owner)
            return try env.database.readSync { db in
                try Row.fetchAll(
                    db, sql: "EXPLAIN QUERY PLAN SELECT d.seq FROM drives d WHERE \(clauses.joined(separator: " AND ")) ORDER BY d.seq",
                    arguments: StatementArguments(args)
                ).map { $0["detail"] as String }.joined(separator: "; ")
            }
        }
        #expect(try plan(["creating"]).contains("drives_status_not_unmounted"))
        #expect(try plan(["unmounted"]).contains("drives_owner_seq"))
    }
}
