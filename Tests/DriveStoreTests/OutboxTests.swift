import DriveModel
import DriveStorage
import DriveWorker
import Foundation
import GRDB
import Logging
import Synchronization
import Testing

@testable import DriveStore

/// The after-commit outbox: effects exist if and only if their transaction committed, run after
/// it, and what a crash left runs at the next start.
@Suite("Store: the after-commit outbox")
struct OutboxTests {
    /// What handlers saw.
    final class Log: Sendable {
        let items = Mutex<[String]>([])
        var all: [String] { items.withLock { $0 } }
        func append(_ item: String) { items.withLock { $0.append(item) } }
    }

    /// A handler that removes the file its payload names (idempotent: a missing file is done).
    static func removeFile(_ removed: Log) -> OutboxRunner.Handler {
        { entry in
            let path = try #require(JSONParser.parse(entry.payload)["path"]?.stringValue)
            if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
            removed.append(path)
        }
    }

    static func runner(_ env: StoreEnv, handlers: [String: OutboxRunner.Handler]) -> OutboxRunner {
        OutboxRunner(
            outbox: env.stores.outbox, doorbell: env.stores.signals.outbox, handlers: handlers,
            logger: Logger(label: "outbox-test"))
    }

    static func temporaryFile() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("drivesd-effect-\(UUID().uuidString)").path
        try Data("x".utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test("an effect recorded in a rolled-back transaction never exists; a committed one runs once, then is gone")
    func commitOrNothing() async throws {
        try await withStore { env in
            let kept = try Self.temporaryFile(), spared = try Self.temporaryFile()
            defer { try? FileManager.default.removeItem(atPath: spared) }
            struct Abort: Error {}
            #expect(throws: Abort.self) {
                try env.database.writeSync { db in
                    try Outbox.record(db, effect: "remove_file", payload: .object(["path": .string(spared)]), afterCommit: env.database.afterCommit)
                    throw Abort()
                }
            }
            try env.database.writeSync { db in
                try Outbox.record(db, effect: "remove_file", payload: .object(["path": .string(kept)]), afterCommit: env.database.afterCommit)
            }
            #expect(try env.count("SELECT COUNT(*) FROM outbox") == 1)
            let removed = Log()
            let runner = Self.runner(env, handlers: ["remove_file": Self.removeFile(removed)])
            #expect(try await runner.drain() == 1)
            #expect(removed.all == [kept])
            #expect(!FileManager.default.fileExists(atPath: kept))
            #expect(FileManager.default.fileExists(atPath: spared))
            #expect(try env.count("SELECT COUNT(*) FROM outbox") == 0)
            #expect(try await runner.drain() == 0)
        }
    }

    @Test("effects left by a process that died run at the next start")
    func resumesAfterRestart() async throws {
        let first = try StoreEnv.make()
        defer { first.remove() }
        let files = try (0..<3).map { _ in try Self.temporaryFile() }
        try first.database.writeSync { db in
            for file in files {
                try Outbox.record(db, effect: "remove_file", payload: .object(["path": .string(file)]), afterCommit: first.database.afterCommit)
            }
        }
        // The process dies before its runner carried anything out.
        try first.close()

        let second = try StoreEnv.make(path: first.path)
        let removed = Log()
        let runner = Self.runner(second, handlers: ["remove_file": Self.removeFile(removed)])
        #expect(try await runner.drain() == 3)
        #expect(removed.all == files)
        #expect(files.allSatisfy { !FileManager.default.fileExists(atPath: $0) })
        #expect(try second.count("SELECT COUNT(*) FROM outbox") == 0)
        try second.close()
    }

    @Test("a failing effect stays, counted, and is retried; one this build does not know is left alone")
    func failuresAreRetried() async throws {
        try await withStore { env in
            try env.database.writeSync { db in
                try Outbox.record(db, effect: "flaky", payload: .object([:]), afterCommit: env.database.afterCommit)
                try Outbox.record(db, effect: "from_a_newer_release", payload: .object([:]), afterCommit: env.database.afterCommit)
            }
            struct Flaky: Error {}
            let calls = Log()
            let runner = Self.runner(env, handlers: [
                "flaky": { entry in
                    calls.append(entry.effect)
                    if calls.all.count == 1 { throw Flaky() }
                },
            ])
            #expect(try await runner.drain() == 0)
            #expect(runner.failureCount == 1)
            #expect(try env.count("SELECT attempts FROM outbox WHERE effect = 'flaky'") == 1)
            #expect(try await runner.drain() == 1)
            #expect(try env.count("SELECT COUNT(*) FROM outbox WHERE effect = 'flaky'") == 0)
            #expect(try env.count("SELECT COUNT(*) FROM outbox WHERE effect = 'from_a_newer_release'") == 1)
        }
    }

    @Test("recording an effect rings the runner's doorbell once the transaction commits")
    func ringsRunner() async throws {
        try await withStore { env in
            #expect(await TransitionPipelineTests.rang(env.stores.signals.outbox) == false)
            try env.database.writeSync { db in
                try Outbox.record(db, effect: "noop", payload: .object([:]), afterCommit: env.database.afterCommit)
            }
            #expect(await TransitionPipelineTests.rang(env.stores.signals.outbox) == true)
        }
    }
}
