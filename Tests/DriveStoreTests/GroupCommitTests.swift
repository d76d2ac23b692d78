import DriveModel
import DriveStorage
import Testing

@testable import DriveStore

/// Group commit on a real database: the drain runs on the writer's thread, a few batches a visit.
@Suite("Group commit on the writer")
struct GroupCommitTests {
    @Test("creates in flight with the worker's writes between them are all answered; after close a write fails, nothing crashes")
    func drainsAndCloses() async throws {
        let env = try StoreEnv.make()
        defer { env.remove() }
        // 200 creates at once, and a worker pass (a direct write of its own) every 20: the drain
        // leaves the writer to the others between its visits, and every create is answered.
        let created = try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<200 {
                group.addTask {
                    if i % 20 == 0 { _ = try await env.complete() }
                    return try await env.stores.drives.create(owner: env.owner, specs: [StoreEnv.spec("g\(i)")]).count
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(created == 200)
        #expect(try env.count("SELECT COUNT(*) FROM drives WHERE name LIKE 'g%'") == 200)
        try env.close()
        // Straight to the committer (a create would fail earlier, at its reads): the batch's
        // transaction fails on the closed connection and the write is answered with that error.
        await #expect(throws: (any Error).self) {
            try await env.database.groupWrite(owner: env.owner) { db in try db.execute(sql: "DELETE FROM drives") }
        }
    }

    struct Refused: Error, Equatable { let n: Int }

    @Test("a write that fails in a shared transaction leaves nothing behind; the others of its batch commit")
    func failedWriteRollsBackItsOwn() async throws {
        let env = try StoreEnv.make()
        defer { env.remove() }
        try await env.database.groupWrite(owner: env.owner) { db in
            try db.execute(sql: "CREATE TABLE scratch (k INTEGER PRIMARY KEY)")
        }
        // 120 writes at once share a few transactions. Each inserts two rows; every third then
        // throws an error of its own, and every seventh fails earlier, on SQLite's constraint,
        // after a first insert of a row it inserts twice.
        let outcomes = await withTaskGroup(of: (Int, Result<Int, any Error>).self) { group in
            for n in 0..<120 {
                group.addTask {
                    do {
                        let value = try await env.database.groupWrite(owner: env.owner) { db -> Int in
                            if n % 7 == 6 {
                                try db.execute(sql: "INSERT INTO scratch (k) VALUES (?)", arguments: [1000 + n])
                                try db.execute(sql: "INSERT INTO scratch (k) VALUES (?)", arguments: [1000 + n])
                            }
                            try db.execute(sql: "INSERT INTO scratch (k) VALUES (?), (?)", arguments: [n, 1000 + n])
                            if n % 3 == 2 { throw Refused(n: n) }
                            return n
                        }
                        return (n, .success(value))
                    } catch {
                        return (n, .failure(error))
                    }
                }
            }
            var all: [Int: Result<Int, any Error>] = [:]
            for await (n, outcome) in group { all[n] = outcome }
            return all
        }
        let kept = (0..<120).filter { $0 % 3 != 2 && $0 % 7 != 6 }
        for n in 0..<120 {
            switch outcomes[n] {
            case .success(let value):
                #expect(kept.contains(n) && value == n, "write \(n) succeeded")
            case .failure(let error):
                #expect(!kept.contains(n), "write \(n) failed: \(error)")
                if n % 7 != 6 { #expect(error as? Refused == Refused(n: n)) }
            case nil:
                Issue.record("write \(n) was not answered")
            }
        }
        let rows = try env.database.readSync { db in try Int.fetchAll(db, sql: "SELECT k FROM scratch ORDER BY k") }
        #expect(rows == kept + kept.map { 1000 + $0 })
        // The connection is left outside any transaction or savepoint: the next write commits.
        try await env.database.groupWrite(owner: env.owner) { db in try db.execute(sql: "DELETE FROM scratch") }
        #expect(try env.count("SELECT COUNT(*) FROM scratch") == 0)
    }
}
