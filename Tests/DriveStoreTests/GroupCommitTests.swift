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
}
