import DriveLifecycle
import DriveModel
import DriveStorage
import Foundation
import GRDB
import Testing

@testable import DriveStore

/// The plan interpreter and the one pipeline of transitions, on a temporary database, no HTTP.
@Suite("Store: plans and the transition pipeline")
struct TransitionPipelineTests {
    @Test("a create schedules one transition; the pipeline completes it once due, through the state machine")
    func createCompletes() async throws {
        try await withStore(durations: OperationDurations(createSeconds: 10, timeScale: 1)) { env in
            let now = Date()
            let drives = try await env.stores.drives.create(owner: env.owner, specs: [StoreEnv.spec("a"), StoreEnv.spec("b")], avoid: [], now: now)
            #expect(drives.map(\.status) == [.creating, .creating])
            #expect(try await env.stores.transitions.pendingCount() == 2)
            let due = try #require(try await env.stores.transitions.nextDue())
            #expect(abs(due - (now.timeIntervalSince1970 + 10)) < 0.01)

            // Not yet due: nothing happens.
            #expect(try await env.complete(now: now.addingTimeInterval(5)) == CompletedTransitions())
            #expect(try await env.status(drives[0].uuid) == .creating)

            let pass = try await env.complete(now: now.addingTimeInterval(11))
            #expect(pass.processed == 2)
            #expect(Set(pass.moved) == Set(drives.map(\.uuid)))
            #expect(try await env.status(drives[0].uuid) == .unmounted)
            #expect(try await env.stores.transitions.pendingCount() == 0)
        }
    }

    @Test("a create due as it starts completes in its own transaction: answered creating, read unmounted, nothing pending")
    func createDueAtOnce() async throws {
        try await withStore { env in  // time scale 0
            let bell = env.stores.signals.transitions
            let one = try await env.stores.drives.create(owner: env.owner, specs: [StoreEnv.spec("one")])
            // More than one drive without tags or licenses: the multi-row INSERT.
            let many = try await env.stores.drives.create(owner: env.owner, specs: (0..<150).map { StoreEnv.spec("m\($0)") })
            #expect((one + many).allSatisfy { $0.status == .creating })
            for drive in one + [many[0], many[149]] { #expect(try await env.status(drive.uuid) == .unmounted) }
            #expect(try env.count("SELECT COUNT(*) FROM drives WHERE status = 'unmounted'") == 151)
            #expect(try await env.stores.transitions.pendingCount() == 0)
            // Nothing for the worker: no doorbell, an empty pass.
            #expect(await Self.rang(bell) == false)
            #expect(try await env.complete() == CompletedTransitions())
        }
    }

    @Test("a create goes through the worker unless due at once: configured, held and timed modes against immediate and time 0")
    func createModes() async throws {
        try await withStore(durations: OperationDurations(createSeconds: 10, timeScale: 1)) { env in
            func create(_ count: Int) async throws -> [DriveStatus] {
                let made = try await env.stores.drives.create(
                    owner: env.owner, specs: (0..<count).map { StoreEnv.spec("d\($0)") }, avoid: [], now: Date())
                #expect(made.allSatisfy { $0.status == .creating })
                var statuses: [DriveStatus] = []
                for drive in made { statuses.append(try await env.status(drive.uuid)) }
                return statuses
            }
            #expect(try await create(1) == [.creating])
            #expect(try await env.stores.transitions.pendingCount() == 1)
            try await env.stores.transitions.setMode(.create, .immediate)
            #expect(try await create(1) == [.unmounted])
            #expect(try await create(3) == [.unmounted, .unmounted, .unmounted])
            #expect(try await env.stores.transitions.pendingCount() == 1)
            try await env.stores.transitions.setMode(.create, .manual)
            #expect(try await create(2) == [.creating, .creating])
            #expect(try await env.stores.transitions.pendingCount() == 3)
            try await env.stores.transitions.setMode(.create, .time(seconds: 0))
            #expect(try await create(1) == [.unmounted])
            try await env.stores.transitions.setMode(.create, .time(seconds: 5))
            #expect(try await create(2) == [.creating, .creating])
            #expect(try await env.stores.transitions.pendingCount() == 5)
        }
    }

    @Test("drives and servers share one pipeline: one pass completes both kinds")
    func bothKinds() async throws {
        // A create takes a while (one due as it starts completes in its own transaction).
        try await withStore(durations: OperationDurations(createSeconds: 1, startSeconds: 0, timeScale: 1)) { env in
            let drive = try await env.stores.drives.create(owner: env.owner, specs: [StoreEnv.spec()]).first!
            let server = try await env.stores.servers.create(
                owner: env.owner, specs: [ServerSpec(name: "s", cpu: 1000, mem: 1 << 30, vncPassword: "x")]
            ).first!
            try await env.stores.servers.act(owner: env.owner, uuid: server.uuid, operation: .start)
            #expect(try env.count("SELECT COUNT(DISTINCT resource_kind) FROM pending_transitions") == 2)
            let pass = try await env.complete(now: Date().addingTimeInterval(2))
            #expect(pass.processed == 2)
            #expect(Set(pass.moved) == [drive.uuid, server.uuid])
            #expect(try await env.stores.servers.server(owner: env.owner, uuid: server.uuid).status == .running)
            #expect(try await env.status(drive.uuid) == .unmounted)
        }
    }

    @Test("the store rings the worker's doorbell after the commit that scheduled work, not before, not on failure")
    func ringsAfterCommit() async throws {
        try await withStore(durations: OperationDurations(createSeconds: 1, timeScale: 1)) { env in
            let bell = env.stores.signals.transitions
            // A write that schedules nothing (a refused one) leaves the bell silent.
            await #expect(throws: CloudSigmaError.self) {
                try await env.stores.drives.update(
                    owner: env.owner, changes: DriveChanges(uuid: "nope", name: "x", size: 1 << 30, media: .disk), mode: .edit)
            }
            #expect(await Self.rang(bell) == false)
            _ = try await env.stores.drives.create(owner: env.owner, specs: [StoreEnv.spec()])
            #expect(await Self.rang(bell) == true)
            // Consumed: a second wait sleeps.
            #expect(await Self.rang(bell) == false)
        }
    }

    /// Whether `bell` was rung since the last wait; consumes the ring (a wait that returns at once).
    static func rang(_ bell: Doorbell) async -> Bool {
        guard bell.isRung else { return false }
        await bell.wait(upTo: .seconds(60))
        return !bell.isRung
    }

    @Test("clones: the source stays cloning_src until its last clone completes; each job finishes")
    func severalClonesOfOneSource() async throws {
        try await withStore(durations: OperationDurations(cloneBaseSeconds: 10, timeScale: 1)) { env in
            let now = Date()
            let source = try await env.stores.drives.create(owner: env.owner, specs: [StoreEnv.spec()], avoid: [], now: now).first!
            try await env.complete(now: now.addingTimeInterval(100))
            let first = try await env.stores.drives.clone(
                owner: env.owner, sourceUUID: source.uuid, request: CloneRequest(), avoid: [], now: now.addingTimeInterval(100))
            let second = try await env.stores.drives.clone(
                owner: env.owner, sourceUUID: source.uuid, request: CloneRequest(), avoid: [], now: now.addingTimeInterval(105))
            #expect(first.status == .cloningDestination)
            #expect(try await env.status(source.uuid) == .cloningSource)
            #expect(try env.count("SELECT COUNT(*) FROM jobs WHERE state = 'started'") == 2)

            // The first clone is due at +111 (1 GiB at 1 GiB/s plus 10 s), the second at +116.
            try await env.complete(now: now.addingTimeInterval(112))
            #expect(try await env.status(first.uuid) == .unmounted)
            #expect(try await env.status(second.uuid) == .cloningDestination)
            #expect(try await env.status(source.uuid) == .cloningSource)
            #expect(try env.count("SELECT COUNT(*) FROM jobs WHERE state = 'success'") == 1)

            try await env.complete(now: now.addingTimeInterval(117))
            #expect(try await env.status(second.uuid) == .unmounted)
            #expect(try await env.status(source.uuid) == .unmounted)
            #expect(try env.count("SELECT COUNT(*) FROM jobs WHERE state = 'success'") == 2)
        }
    }

    @Test("a resize completes with the new size from its payload")
    func resizeAppliesPayload() async throws {
        try await withStore { env in
            let drive = try await env.stores.drives.create(owner: env.owner, specs: [StoreEnv.spec()]).first!
            try await env.complete()
            let resized = try await env.stores.drives.update(
                owner: env.owner, changes: DriveChanges(uuid: drive.uuid, name: "d", size: 2 << 30, media: .disk),
                mode: .resizeAction)
            #expect(resized.status == .resizing)
            #expect(resized.size == 1 << 30)
            try await env.complete()
            let after = try await env.stores.drives.drive(owner: env.owner, uuid: drive.uuid)
            #expect(after.status == .unmounted)
            #expect(after.size == 2 << 30)
        }
    }

    @Test("compare-and-swap: a plan carried out on a stale status conflicts, and the transaction applies nothing")
    func compareAndSwapConflict() async throws {
        try await withStore { env in
            let drive = try await env.stores.drives.create(owner: env.owner, specs: [StoreEnv.spec()]).first!
            try await env.complete()
            let modes = try TransitionModes(database: env.database)
            let writeEnv = WriteEnvironment(durations: OperationDurations(timeScale: 0), modes: modes, catalogue: StorageCatalogue(), hosts: 4)
            #expect(throws: StoreError.self) {
                try env.database.writeSync { db in
                    let interpreter = PlanInterpreter(db, env: writeEnv, now: Date(), afterCommit: env.database.afterCommit)
                    let seq = try #require(try Int64.fetchOne(db, sql: "SELECT seq FROM drives WHERE uuid = ?", arguments: [drive.uuid]))
                    // A first, legal change: the drive goes to resizing with a transition.
                    var row = try #require(try interpreter.driveRow(seq: seq))
                    try interpreter.apply(.resize, to: row)
                    // The caller still believes the drive is unmounted: its plan must not apply.
                    row.status = .unmounted
                    try interpreter.carryOut(DrivePlan(status: .mounted), on: row)
                }
            }
            #expect(try await env.status(drive.uuid) == .unmounted)
            #expect(try await env.stores.transitions.pendingCount() == 0)
        }
    }

    @Test("a stale transition (its resource left the status it was scheduled from) is dropped, its job released")
    func staleTransition() async throws {
        try await withStore(durations: OperationDurations(cloneBaseSeconds: 10, timeScale: 1)) { env in
            let source = try await env.stores.drives.create(owner: env.owner, specs: [StoreEnv.spec()]).first!
            try await env.complete(now: Date().addingTimeInterval(5))
            let clone = try await env.stores.drives.clone(owner: env.owner, sourceUUID: source.uuid, request: CloneRequest())
            // Something outside the state machine moved the clone (a repair by hand, an old bug).
            try env.database.writeSync { db in
                try db.execute(sql: "UPDATE drives SET status = 'unmounted' WHERE uuid = ?", arguments: [clone.uuid])
            }
            let pass = try await env.complete(now: Date().addingTimeInterval(100))
            #expect(pass.processed == 1)
            #expect(pass.moved.isEmpty)
            #expect(try env.count("SELECT COUNT(*) FROM jobs WHERE state = 'started'") == 0)
            #expect(try await env.status(source.uuid) == .unmounted)
            #expect(try await env.stores.transitions.pendingCount() == 0)
        }
    }

    @Test("manual mode holds transitions of every kind until advanced, by operation or by resource")
    func heldAndAdvanced() async throws {
        try await withStore { env in
            try await env.stores.transitions.setMode(.create, .manual)
            try await env.stores.transitions.setMode(.start, .manual)
            let drives = try await env.stores.drives.create(owner: env.owner, specs: [StoreEnv.spec("a"), StoreEnv.spec("b")])
            let server = try await env.stores.servers.create(
                owner: env.owner, specs: [ServerSpec(name: "s", cpu: 1000, mem: 1 << 30, vncPassword: "x")]
            ).first!
            try await env.stores.servers.act(owner: env.owner, uuid: server.uuid, operation: .start)
            #expect(try await env.complete(now: Date().addingTimeInterval(86_400)).processed == 0)

            #expect(try await env.stores.transitions.advance(operation: nil, uuid: drives[1].uuid, now: Date()) == 1)
            #expect(try await env.complete().moved == [drives[1].uuid])
            #expect(try await env.stores.transitions.advance(operation: .start, uuid: nil, now: Date()) == 1)
            #expect(try await env.complete().moved == [server.uuid])
            #expect(try await env.status(drives[0].uuid) == .creating)
            #expect(try await env.stores.transitions.advance(operation: nil, uuid: nil, now: Date()) == 1)
            #expect(try await env.complete().moved == [drives[0].uuid])

            // Modes survive a restart of the store.
            let reopened = try env.database.stores(durations: OperationDurations(timeScale: 0))
            #expect(reopened.transitions.mode(.create) == .manual)
            #expect(reopened.transitions.mode(.resize) == nil)
        }
    }
}
