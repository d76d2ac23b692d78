import DriveAPI
import DriveContent
import DriveLifecycle
import DriveModel
import DriveStorage
import DriveStore
import DrivesdApp
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import HummingbirdWSClient
import HummingbirdWSTesting
import Logging
import Synchronization
import Testing

/// Note: `listen` waits up to 30 s by default but returns as soon as its condition holds. The
/// daemon here runs in the test process, whose cooperative threads the process tests (running
/// in parallel) sometimes block for seconds; a short timeout would fail for that, not for the
/// daemon.

/// Runs `body` against a daemon served on a real socket (the websocket needs one), with its
/// worker, outbox runner and event hub running.
func withLiveDrivesd(
    settings: APISettings = APISettings(durations: OperationDurations.stepped),
    _ body: @Sendable (TestEnv) async throws -> Void
) async throws {
    let dbPath = TestDatabase.temporaryPath()
    defer {
        TestDatabase.remove(dbPath)
        try? FileManager.default.removeItem(atPath: dbPath + "-data")
    }
    let opened = try await TestBackend.open(path: dbPath)
    let alice = Account(user: opened.alice, password: "alice-secret")
    let bob = Account(user: opened.bob, password: "bob-secret")
    var logger = Logger(label: "drivesd-test")
    logger.logLevel = .warning
    let api = try await DrivesdApp.buildAPI(
        opened.backend, dataDirectory: ContentDirectory(root: dbPath + "-data"), settings: settings, logger: logger)
    _ = try await api.content.prepare()
    do {
        try await api.buildApplication(host: "127.0.0.1", port: 0, logger: logger).test(.live) { client in
            try await body(TestEnv(api: api, alice: alice, bob: bob, client: client, backend: opened.backend))
        }
    } catch {
        try? await opened.close()
        throw error
    }
    try await opened.close()
}

/// The frames one websocket received.
final class FrameLog: Sendable {
    private let frames = Mutex<[JSONValue]>([])
    var all: [JSONValue] { frames.withLock { $0 } }
    func append(_ frame: JSONValue) { frames.withLock { $0.append(frame) } }

    /// The frames about `uri`.
    func about(_ uri: String) -> [JSONValue] { all.filter { $0["resource_uri"]?.stringValue == uri } }
}

/// When a wait ends; nil until it is known.
final class Deadline: Sendable {
    private let instant = Mutex<ContinuousClock.Instant?>(nil)
    func set(_ value: ContinuousClock.Instant) { instant.withLock { $0 = value } }
    var passed: Bool { instant.withLock { $0.map { ContinuousClock.now >= $0 } ?? false } }
}

extension TestEnv {
    /// A fresh `async_auth` cookie of `account`.
    func asyncCookie(as account: Account? = nil) async throws -> String {
        let reply = try await request(.post, "/api/2.0/accounts/action/?do=authenticate_asynchronous", body: "{}", as: account)
        try #require(reply.code == 200)
        let line = try #require(reply.headers[values: .setCookie].first { $0.hasPrefix("async_auth=") })
        return String(line.prefix { $0 != ";" })
    }

    /// Opens the websocket at `path` with `headers`, runs `body` once it is open, then keeps
    /// reading until `until` holds for the frames (or `timeout` after `body` returned: on a
    /// loaded machine the body alone may take longer than that, and the frames of its last
    /// changes must still be waited for); returns what arrived.
    func listen(
        path: String = "/websocket", headers: HTTPFields, timeout: Duration = .seconds(30), log: FrameLog = FrameLog(),
        until: @escaping @Sendable (FrameLog) -> Bool, _ body: @escaping @Sendable () async throws -> Void
    ) async throws -> FrameLog {
        let (opened, openedContinuation) = AsyncStream.makeStream(of: Void.self)
        // Set when the body returned: the wait for `until` ends at the latest `timeout` later.
        let deadline = Deadline()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                defer { openedContinuation.finish() }
                var configuration = WebSocketClientConfiguration()
                configuration.additionalHeaders = headers
                try await client.ws(path, configuration: configuration) { inbound, _, _ in
                    openedContinuation.yield()
                    try await withThrowingTaskGroup(of: Void.self) { reading in
                        reading.addTask {
                            for try await message in inbound.messages(maxSize: 1 << 20) {
                                if case .text(let text) = message {
                                    log.append(try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)))
                                }
                            }
                        }
                        // The condition is looked at on a clock, not only when a frame comes: it
                        // may depend on what the body records after the frame it waits for arrived.
                        reading.addTask {
                            while !until(log) && !deadline.passed {
                                try await Task.sleep(for: .milliseconds(20))
                            }
                        }
                        _ = try await reading.next()
                        reading.cancelAll()
                    }
                }
            }
            var iterator = opened.makeAsyncIterator()
            guard await iterator.next() != nil else {
                try await group.waitForAll()
                return
            }
            try await body()
            deadline.set(ContinuousClock.now + timeout)
            try await group.waitForAll()
        }
        return log
    }
}

/// The time limit catches a socket that hangs, not a slow machine: every test of the run starts
/// at once, and on two loaded cores (the PostgreSQL run, a busy CI machine) one of these waits its
/// turn for well over two minutes while the run as a whole is still progressing.
@Suite("Change events over the websocket", .timeLimit(.minutes(10)))
struct EventsTests {
    static func drive(_ uuid: String) -> String { "/api/2.0/drives/\(uuid)/" }

    @Test("a drive's life in frames, after each commit: created, its transition, an update, its deletion (no object)")
    func driveLife() async throws {
        try await withLiveDrivesd { env in
            let cookie = try await env.asyncCookie()
            let uuidBox = Mutex<String?>(nil)
            let log = try await env.listen(headers: [.cookie: cookie], until: { log in
                guard let uuid = uuidBox.withLock({ $0 }) else { return false }
                return log.about(Self.drive(uuid)).contains { $0["object"] == nil }
            }) {
                let uuid = try await env.createDrive(name: "evented")
                uuidBox.withLock { $0 = uuid }
                // Wait for the worker's transition to be visible, then change and delete it.
                for _ in 0..<100 where try await env.status(uuid) != "unmounted" { try await Task.sleep(for: .milliseconds(20)) }
                let put = try await env.request(
                    .put, Self.drive(uuid), body: #"{"name": "renamed", "size": 1073741824, "media": "disk"}"#)
                try #require(put.code == 200)
                try #require(try await env.request(.delete, Self.drive(uuid)).code == 204)
            }
            let uuid = try #require(uuidBox.withLock { $0 })
            let frames = log.about(Self.drive(uuid))
            #expect(frames.allSatisfy { $0["resource_type"]?.stringValue == "drives" })
            let statuses = frames.compactMap { $0["object"]?["status"]?.stringValue }
            let names = frames.compactMap { $0["object"]?["name"]?.stringValue }
            #expect(statuses.last == "unmounted")
            #expect(statuses.contains("unmounted"))
            #expect(names.last == "renamed")
            #expect(names.first == "evented")
            // The last frame is the deletion: no object, and after it the drive is 404.
            #expect(frames.last?["object"] == nil)
            #expect(frames.last.map { Set($0.objectValue?.keys ?? [:].keys) } == ["resource_type", "resource_uri"])
            #expect(frames.dropLast().allSatisfy { $0["object"]?["uuid"]?.stringValue == uuid })
            #expect(try await env.get(Self.drive(uuid)).code == 404)
            // Every frame is an object with resource_uri under /api/2.0/ (W4).
            #expect(log.all.allSatisfy { $0["resource_uri"]?.stringValue?.hasPrefix("/api/2.0/") == true })
        }
    }

    @Test("each account sees its own changes only; the admin's socket sees both, with the owner")
    func isolation() async throws {
        try await withLiveDrivesd { env in
            let aliceCookie = try await env.asyncCookie()
            let bobCookie = try await env.asyncCookie(as: env.bob)
            // Bob's first drive, then Alice's, then Bob's second: each socket waits for a frame
            // committed after the other account's change, so a leaked frame would have come first
            // (one socket's frames keep commit order).
            let made = Mutex<(b1: String?, a: String?, b2: String?)>((nil, nil, nil))
            let adminHeaders: HTTPFields = [.authorization: TestEnv.adminAuthorization]
            // Its body is empty, so its wait starts at once: it outlasts the other two sockets'.
            async let admin: FrameLog = env.listen(path: "/_drivesd/websocket", headers: adminHeaders, timeout: .seconds(90), until: { log in
                let (_, a, b2) = made.withLock { $0 }
                guard let a, let b2 else { return false }
                return !log.about(Self.drive(a)).isEmpty && !log.about(Self.drive(b2)).isEmpty
            }) {}
            let bobLog = try await env.listen(headers: [.cookie: bobCookie], until: { log in
                guard let b2 = made.withLock({ $0.b2 }) else { return false }
                return !log.about(Self.drive(b2)).isEmpty
            }) {
                let aliceLog = try await env.listen(headers: [.cookie: aliceCookie], until: { log in
                    guard let a = made.withLock({ $0.a }) else { return false }
                    return !log.about(Self.drive(a)).isEmpty
                }) {
                    let b1 = try await env.createDrive(name: "bob's first", as: env.bob)
                    made.withLock { $0.b1 = b1 }
                    let a = try await env.createDrive(name: "alice's")
                    made.withLock { $0.a = a }
                }
                let b2 = try await env.createDrive(name: "bob's second", as: env.bob)
                made.withLock { $0.b2 = b2 }
                let (b1, a, _) = made.withLock { $0 }
                #expect(!aliceLog.about(Self.drive(try #require(a))).isEmpty)
                #expect(aliceLog.about(Self.drive(try #require(b1))).isEmpty, "alice sees bob's drive")
            }
            let (b1, a, b2) = made.withLock { $0 }
            #expect(!bobLog.about(Self.drive(try #require(b1))).isEmpty)
            #expect(!bobLog.about(Self.drive(try #require(b2))).isEmpty)
            #expect(bobLog.about(Self.drive(try #require(a))).isEmpty, "bob sees alice's drive")
            let adminFrames = try await admin
            #expect(adminFrames.about(Self.drive(try #require(a))).first?["owner"]?.stringValue == env.alice.user.uuid)
            #expect(adminFrames.about(Self.drive(try #require(b2))).first?["owner"]?.stringValue == env.bob.user.uuid)
        }
    }

    @Test("one drive's frames arrive in commit order")
    func ordering() async throws {
        try await withLiveDrivesd { env in
            let uuid = try await env.createDrive(name: "n0")
            for _ in 0..<100 where try await env.status(uuid) != "unmounted" { try await Task.sleep(for: .milliseconds(20)) }
            let cookie = try await env.asyncCookie()
            let log = try await env.listen(headers: [.cookie: cookie], until: { log in
                log.about(Self.drive(uuid)).last?["object"]?["name"]?.stringValue == "n30"
            }) {
                for i in 1...30 {
                    let put = try await env.request(
                        .put, Self.drive(uuid), body: #"{"name": "n\#(i)", "size": 1073741824, "media": "disk"}"#)
                    try #require(put.code == 200)
                }
            }
            let numbers = log.about(Self.drive(uuid)).compactMap { $0["object"]?["name"]?.stringValue }.compactMap { Int($0.dropFirst()) }
            #expect(numbers.last == 30)
            #expect(numbers == numbers.sorted(), "frames out of commit order: \(numbers)")
            #expect(numbers.count >= 2)
        }
    }

    @Test("frames come from commits, whoever commits: bulk create, a mount, a server deleted with recurse, an admin reset")
    func everyWriter() async throws {
        try await withLiveDrivesd { env in
            let cookie = try await env.asyncCookie()
            let seen = Mutex<Set<String>>([])
            let frames = FrameLog()
            let log = try await env.listen(headers: [.cookie: cookie], log: frames, until: { log in
                let want = seen.withLock { $0 }
                guard !want.isEmpty else { return false }
                let deleted = Set(log.all.filter { $0["object"] == nil }.compactMap { $0["resource_uri"]?.stringValue })
                return want.isSubset(of: deleted)
            }) {
                let bulk = try await env.request(
                    .post, "/api/2.0/drives/",
                    body: #"{"objects": [{"name": "b1", "size": 1073741824, "media": "disk"}, {"name": "b2", "size": 1073741824, "media": "disk"}]}"#)
                try #require(bulk.code == 201)
                let uuids = bulk.objects.compactMap { $0["uuid"]?.stringValue }
                for uuid in uuids {
                    for _ in 0..<100 where try await env.status(uuid) != "unmounted" { try await Task.sleep(for: .milliseconds(20)) }
                }
                let server = try await env.request(
                    .post, "/api/2.0/servers/",
                    body: #"{"objects": [{"name": "s", "cpu": 1000, "mem": 536870912, "vnc_password": "x", "drives": [{"drive": "\#(uuids[0])", "dev_channel": "0:0", "device": "virtio", "boot_order": 1}]}]}"#)
                try #require(server.code == 201, "\(server.text)")
                let serverUUID = try #require(server.first?["uuid"]?.stringValue)
                // Frames show the state when published: wait for the mount's before undoing it
                // (under load, a later deletion would otherwise be all that is left to show).
                for _ in 0..<1000 where !frames.all.contains(where: { ($0["object"]?["mounted_on"]?.arrayValue?.isEmpty) == false }) {
                    try await Task.sleep(for: .milliseconds(20))
                }
                // What must be seen deleted, named before the deletions so that their frames end the wait.
                seen.withLock { $0 = Set(uuids.map(Self.drive) + ["/api/2.0/servers/\(serverUUID)/"]) }
                let recurse = try await env.request(.delete, "/api/2.0/servers/\(serverUUID)/?recurse=all_drives")
                try #require(recurse.code == 204, "\(recurse.text)")
                let reset = try await env.request(
                    .post, "/_drivesd/reset", body: #"{"account": "alice@example.com"}"#, headers: [.authorization: TestEnv.adminAuthorization])
                try #require(reset.code == 200)
            }
            let deleted = Set(log.all.filter { $0["object"] == nil }.compactMap { $0["resource_uri"]?.stringValue })
            for uri in seen.withLock({ $0 }) { #expect(deleted.contains(uri), "no deletion frame for \(uri)") }
            // The bulk create and the mount produced frames with objects too.
            #expect(log.all.contains { $0["resource_type"]?.stringValue == "servers" && $0["object"] != nil })
            #expect(log.all.contains { $0["object"]?["name"]?.stringValue == "b2" })
            #expect(log.all.contains { ($0["object"]?["mounted_on"]?.arrayValue?.isEmpty) == false }, "the mount changed the drive")
        }
    }

    @Test("a handshake without a valid async_auth cookie is refused; the cookie expires for connecting only")
    func handshakeRefused() async throws {
        try await withLiveDrivesd { env in
            for headers: HTTPFields in [[:], [.cookie: "async_auth=forged|1|abc"], [.authorization: env.alice.authorization]] {
                await #expect(throws: (any Error).self) {
                    _ = try await env.listen(headers: headers, timeout: .seconds(1), until: { _ in true }) {}
                }
            }
            // Plain HTTP on the path: 401 without the cookie, 400 with it.
            let plain = try await env.request(.get, "/websocket", authenticated: false)
            #expect(plain.code == 401)
            #expect(plain.error.type == "permission")
            let cookie = try await env.asyncCookie()
            #expect(try await env.request(.get, "/websocket", authenticated: false, headers: [.cookie: cookie]).code == 400)
            // The admin's socket needs the admin's credentials, never a user's cookie.
            await #expect(throws: (any Error).self) {
                _ = try await env.listen(path: "/_drivesd/websocket", headers: [.cookie: cookie], timeout: .seconds(1), until: { _ in true }) {}
            }
        }
    }

    @Test("events are recorded only while someone listens: nothing while no socket is open")
    func recordedOnlyWhileListened() async throws {
        try await withDrivesd { env in
            let events = env.api.stores.events
            _ = try await env.createDrive(name: "unheard")
            #expect(try await events.latestEventID() == 0)
            let subscription = try await env.api.events.subscribe(owner: env.alice.user.uuid)
            let heard = try await env.createDrive(name: "heard")
            let afterOne = try await events.latestEventID()
            #expect(afterOne > 0)
            try await env.api.events.pump()
            let frames = await subscription.next()
            #expect(frames.count == 1)
            #expect(frames.first.map { String(buffer: $0) }?.contains(heard) == true)
            subscription.cancel()
            // The count goes down once the cancel's update commits (asynchronously): then a
            // change records nothing.
            var quiet = false
            for _ in 0..<100 {
                let before = try await events.latestEventID()
                _ = try await env.createDrive(name: "unheard-again")
                if try await events.latestEventID() == before {
                    quiet = true
                    break
                }
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(quiet)
        }
    }

    @Test("a subscriber that does not keep up is closed when its queue overflows; writers never wait for it")
    func slowSubscriber() async throws {
        var settings = APISettings(durations: OperationDurations.stepped)
        settings.eventQueueLimit = 4
        try await withDrivesd(settings: settings) { env in
            let stalled = try await env.api.events.subscribe(owner: env.alice.user.uuid)
            let reading = try await env.api.events.subscribe(owner: env.alice.user.uuid)
            let others = try await env.api.events.subscribe(owner: env.bob.user.uuid)
            try await env.api.events.pump()
            var uuids: [String] = []
            for i in 0..<3 {
                uuids.append(try await env.createDrive(name: "d\(i)"))
                try await env.api.events.pump()
                // The reading subscriber drains its queue.
                #expect(await reading.next().isEmpty == false)
            }
            #expect(!stalled.didOverflow)
            for i in 3..<6 { uuids.append(try await env.createDrive(name: "d\(i)")) }
            try await env.api.events.pump()
            #expect(stalled.didOverflow)
            #expect(!reading.didOverflow)
            #expect(!others.didOverflow)
            #expect(env.api.events.statistics.closedSlow == 1)
            #expect(env.api.events.statistics.subscribers == 2)
            // What it had queued is dropped at once: the subscription is over.
            #expect(await stalled.next().isEmpty)
            _ = try await env.createDrive(name: "bob's", as: env.bob)
            try await env.api.events.pump()
            #expect(await others.next().isEmpty == false, "another account's subscriber is unaffected")
            #expect(try await env.get("/api/2.0/drives/").totalCount == 6)
        }
    }
}

extension EventsTests {
    @Test("a state's load sends a frame per resource it changed: the deleted one without object, the restored one with it, none for the untouched")
    func stateLoad() async throws {
        try await withLiveDrivesd { env in
            let kept = try await env.createDrive(name: "kept")
            let restored = try await env.createDrive(name: "restored")
            for uuid in [kept, restored] {
                for _ in 0..<100 where try await env.status(uuid) != "unmounted" { try await Task.sleep(for: .milliseconds(20)) }
            }
            let admin: HTTPFields = [.authorization: TestEnv.adminAuthorization]
            #expect(try await env.request(.post, "/_drivesd/states", body: #"{"name": "s"}"#, headers: admin).code == 201)
            #expect(try await env.request(.delete, Self.drive(restored)).code == 204)
            let added = try await env.createDrive(name: "added")
            for _ in 0..<100 where try await env.status(added) != "unmounted" { try await Task.sleep(for: .milliseconds(20)) }
            let cookie = try await env.asyncCookie()
            let log = try await env.listen(headers: [.cookie: cookie], until: { log in
                !log.about(Self.drive(added)).isEmpty && !log.about(Self.drive(restored)).isEmpty
            }) {
                let load = try await env.request(.post, "/_drivesd/states/s/load", headers: admin)
                #expect(load.code == 200)
            }
            let gone = log.about(Self.drive(added))
            #expect(gone.count == 1 && gone.first?["object"] == nil, "\(gone)")
            let back = log.about(Self.drive(restored))
            #expect(back.count == 1 && back.first?["object"]?["name"]?.stringValue == "restored", "\(back)")
            #expect(log.about(Self.drive(kept)).isEmpty, "an unchanged drive got a frame")
        }
    }
}
