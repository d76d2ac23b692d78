import DriveAPI
import DriveContent
import DriveLifecycle
import DriveModel
import DriveStorage
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// Named states (issue 22): `/_drivesd/states`, saved and loaded while the daemon runs.
@Suite("Named states")
struct StatesTests {
    static let listPaths = [
        "/api/2.0/drives/detail/?limit=0", "/api/2.0/servers/detail/?limit=0", "/api/2.0/snapshots/detail/?limit=0",
        "/api/2.0/tags/detail/?limit=0", "/api/2.0/jobs/?limit=0", "/api/2.0/ips/detail/?limit=0",
        "/api/2.0/vlans/detail/?limit=0", "/api/2.0/profile/",
    ]

    /// What an account sees: every list in full, and the bytes of every drive that holds some.
    struct View: Equatable {
        var lists: [String: JSONValue] = [:]
        var bytes: [String: [UInt8]] = [:]
    }

    static func view(_ env: TestEnv, as account: Account? = nil, bytes: Bool = true) async throws -> View {
        var view = View()
        for path in listPaths {
            let reply = try await env.get(path, as: account)
            try #require(reply.code == 200, "\(path): \(reply.text)")
            view.lists[path] = reply.json
        }
        for drive in view.lists[listPaths[0]]?["objects"]?.arrayValue ?? [] where bytes {
            guard let uuid = drive["uuid"]?.stringValue, drive["status"]?.stringValue == "unmounted" else { continue }
            let download = try await env.send(.get, "/api/2.0/drives/\(uuid)/download/", as: account)
            try #require(download.status == .ok, "download \(uuid): \(download.status)")
            view.bytes[uuid] = download.body
        }
        return view
    }

    /// The first difference between two views, for a readable failure.
    static func difference(_ a: View, _ b: View) -> String {
        for path in listPaths where a.lists[path] != b.lists[path] {
            return "\(path):\n  saved: \(a.lists[path]?.jsonString.prefix(600) ?? "nil")\n  now:   \(b.lists[path]?.jsonString.prefix(600) ?? "nil")"
        }
        if a.bytes.keys.sorted() != b.bytes.keys.sorted() { return "drives with bytes: \(a.bytes.keys.sorted()) vs \(b.bytes.keys.sorted())" }
        // Array == (memcmp), not an element-wise walk: these are megabytes, in a debug build.
        for (uuid, bytes) in a.bytes where bytes != b.bytes[uuid] { return "bytes of \(uuid)" }
        return "none"
    }

    func admin(_ env: TestEnv, _ method: HTTPRequest.Method, _ path: String, body: String? = nil) async throws -> Reply {
        try await env.request(method, path, body: body, headers: [.authorization: TestEnv.adminAuthorization])
    }

    /// Drives with bytes, a clone, a snapshot, a tag, a server with a mount: an account's fixtures.
    func populate(_ env: TestEnv, as account: Account, label: String) async throws -> (drives: [String], server: String) {
        let content = ContentTests()
        let first = try await content.upload(env, ContentTests.random(3_000_000, seed: 7), as: account)
        let second = try await content.upload(env, ContentTests.random(5_000_000, seed: 8), as: account)
        let plain = try await env.createDrive(name: "\(label)-plain", size: Int64(ContentTests.minimum), as: account)
        let clone = try await env.request(.post, "/api/2.0/drives/\(first)/action/?do=clone", body: #"{"name": "\#(label)-clone"}"#, as: account)
        try #require(clone.code == 202, "\(clone.text)")
        try await env.tick()
        let snapshot = try await env.request(.post, "/api/2.0/snapshots/", body: #"{"objects": [{"drive": "\#(second)", "name": "\#(label)-snap"}]}"#, as: account)
        try #require(snapshot.code == 201, "\(snapshot.text)")
        let tag = try await env.request(
            .post, "/api/2.0/tags/", body: #"{"objects": [{"name": "\#(label)-tag", "resources": ["\#(first)", "\#(plain)"]}]}"#, as: account)
        try #require(tag.code == 201, "\(tag.text)")
        let server = try await env.createServer(name: "\(label)-srv", drives: "[\(TestEnv.mount(plain))]", as: account)
        try await env.tick()
        return ([first, second, plain, try #require(clone.first?["uuid"]?.stringValue)], server)
    }

    /// Edits, deletes, creates, uploads, snapshots and mounts: every kind of change.
    func changeEverything(_ env: TestEnv, _ made: (drives: [String], server: String), as account: Account) async throws {
        let put = try await env.request(
            .put, "/api/2.0/drives/\(made.drives[1])/", body: #"{"name": "renamed", "size": 16777216, "media": "disk", "meta": {"k": "v"}}"#,
            as: account)
        try #require(put.code == 200, "\(put.text)")
        try #require(try await env.request(.delete, "/api/2.0/drives/\(made.drives[3])/", as: account).code == 204)
        _ = try await env.createDrive(name: "newcomer", as: account)
        let uploaded = try await ContentTests().upload(env, ContentTests.random(2_000_000, seed: 9), as: account)
        let snapshot = try await env.request(.post, "/api/2.0/snapshots/", body: #"{"objects": [{"drive": "\#(uploaded)"}]}"#, as: account)
        try #require(snapshot.code == 201, "\(snapshot.text)")
        let mounted = try await env.putServerDrives(
            made.server, "[\(TestEnv.mount(made.drives[2])), \(TestEnv.mount(made.drives[0], "0:1"))]", as: account)
        try #require(mounted.code == 200, "\(mounted.text)")
        let tags = try await env.get("/api/2.0/tags/", as: account)
        for tag in tags.objects {
            try #require(try await env.request(.delete, "/api/2.0/tags/\(tag["uuid"]?.stringValue ?? "")/", as: account).code == 204)
        }
        try await env.tick()
    }

    @Test("save, change everything, load: every object and every byte is as saved, and no content was copied")
    func roundTrip() async throws {
        try await withDrivesd(settings: ContentTests.settings) { env in
            let made = try await populate(env, as: env.alice, label: "a")
            let saved = try await Self.view(env)
            let before = try await env.api.stores.content.stats()
            let save = try await admin(env, .post, "/_drivesd/states", body: #"{"name": "baseline"}"#)
            #expect(save.code == 201, "\(save.text)")
            #expect(save.json?["name"]?.stringValue == "baseline")
            #expect(save.json?["scope"]?.stringValue == "all")
            #expect(save.json?["drives"] == .int(4))
            #expect(save.json?["servers"] == .int(1))
            #expect(save.json?["snapshots"] == .int(1))
            #expect(save.json?["stored_bytes"] == .int(8_000_000))
            // References only: the data directory stores the same bytes as before the save.
            let afterSave = try await env.api.stores.content.stats()
            #expect(afterSave.storedBytes == before.storedBytes)
            #expect(afterSave.pieces == before.pieces)

            try await changeEverything(env, made, as: env.alice)
            let changed = try await Self.view(env)
            #expect(Self.difference(saved, changed) != "none")

            let load = try await admin(env, .post, "/_drivesd/states/baseline/load")
            #expect(load.code == 200, "\(load.text)")
            let deleted = load.json?["deleted"]?.intValue ?? 0
            let inserted = load.json?["inserted"]?.intValue ?? 0
            #expect(deleted > 0 && inserted > 0)
            let loaded = try await Self.view(env)
            #expect(Self.difference(saved, loaded) == "none")

            // Loading again changes nothing; what the change created is removed from disk.
            let again = try await admin(env, .post, "/_drivesd/states/baseline/load")
            #expect(again.json?["deleted"] == .int(0) && again.json?["updated"] == .int(0) && again.json?["inserted"] == .int(0))
            _ = try await env.api.outboxRunner.drain()
            #expect(try await env.api.stores.content.stats().storedBytes == before.storedBytes)
        }
    }

    @Test("a drive deleted after the save keeps its bytes for the state, and they go when the state is deleted")
    func contentLivesWithTheState() async throws {
        try await withDrivesd(settings: ContentTests.settings) { env in
            let bytes = ContentTests.random(4_000_000, seed: 21)
            let drive = try await ContentTests().upload(env, bytes)
            let empty = try await env.api.stores.content.stats()
            #expect(try await admin(env, .post, "/_drivesd/states", body: #"{"name": "with-bytes"}"#).code == 201)
            #expect(try await env.request(.delete, "/api/2.0/drives/\(drive)/").code == 204)
            _ = try await env.api.outboxRunner.drain()
            // Still stored: the state references the image.
            #expect(try await env.api.stores.content.stats().storedBytes == empty.storedBytes)
            #expect(try await admin(env, .post, "/_drivesd/states/with-bytes/load").code == 200)
            let download = try await env.send(.get, "/api/2.0/drives/\(drive)/download/")
            #expect(download.status == .ok)
            #expect(sameBytes(download.body.prefix(bytes.count), bytes))
            // Deleted drive and the state replaced by one without it: the bytes go.
            #expect(try await env.request(.delete, "/api/2.0/drives/\(drive)/").code == 204)
            _ = try await env.api.outboxRunner.drain()
            #expect(try await env.api.stores.content.stats().storedBytes == empty.storedBytes)
            let replaced = try await admin(env, .post, "/_drivesd/states", body: #"{"name": "with-bytes", "replace": true}"#)
            #expect(replaced.code == 201 && replaced.json?["stored_bytes"] == .int(0))
            _ = try await env.api.outboxRunner.drain()
            #expect(try await env.api.stores.content.stats().storedBytes == empty.storedBytes - Int64(bytes.count))
            let report = try await env.api.content.sweep(repair: false)
            #expect(report.unreferencedImages.isEmpty && report.unreferencedFiles.isEmpty)
            #expect(try await admin(env, .delete, "/_drivesd/states/with-bytes").code == 204)
        }
    }

    @Test("a per-account load replaces that account only: the other account stays byte-identical")
    func perAccount() async throws {
        try await withDrivesd(settings: ContentTests.settings) { env in
            let alices = try await populate(env, as: env.alice, label: "a")
            let bobs = try await populate(env, as: env.bob, label: "b")
            let aliceSaved = try await Self.view(env, as: env.alice)
            let save = try await admin(env, .post, "/_drivesd/states", body: #"{"name": "alice", "account": "alice@example.com"}"#)
            #expect(save.code == 201, "\(save.text)")
            #expect(save.json?["scope"]?.stringValue == "account")
            #expect(save.json?["account"]?["uuid"]?.stringValue == env.alice.user.uuid)
            #expect(save.json?["drives"] == .int(4))

            try await changeEverything(env, alices, as: env.alice)
            try await changeEverything(env, bobs, as: env.bob)
            let bobChanged = try await Self.view(env, as: env.bob)
            let load = try await admin(env, .post, "/_drivesd/states/alice/load")
            #expect(load.code == 200, "\(load.text)")
            let aliceLoaded = try await Self.view(env, as: env.alice)
            #expect(Self.difference(aliceSaved, aliceLoaded) == "none")
            let bobAfter = try await Self.view(env, as: env.bob)
            #expect(Self.difference(bobChanged, bobAfter) == "none")
        }
    }

    @Test("transitions saved pending resume from the load: due later by the time between save and load; held stay held")
    func transitionsResume() async throws {
        try await withDrivesd { env in
            #expect(try await admin(env, .put, "/_drivesd/transitions/create", body: #"{"mode": "time", "seconds": 30}"#).code == 200)
            let slow = try await env.createDrive(name: "slow")
            #expect(try await admin(env, .put, "/_drivesd/transitions/create", body: #"{"mode": "manual"}"#).code == 200)
            let held = try await env.createDrive(name: "held")
            func due(_ uuid: String) async throws -> (held: Bool, due: String?) {
                let reply = try await admin(env, .get, "/_drivesd/pending?uuid=\(uuid)")
                let row = try #require(reply.json?["objects"]?.arrayValue?.first, "\(reply.text)")
                return (row["held"] == .bool(true), row["due"]?.stringValue)
            }
            let savedDue = try await due(slow)
            #expect(try await admin(env, .post, "/_drivesd/states", body: #"{"name": "pending"}"#).code == 201)
            // Meanwhile the held one is released and completes; time passes.
            #expect(try await admin(env, .post, "/_drivesd/advance").code == 200)
            try await env.tick()
            #expect(try await env.status(held) == "unmounted")
            #expect(try await env.status(slow) == "creating")
            try await Task.sleep(for: .milliseconds(1200))
            #expect(try await admin(env, .post, "/_drivesd/states/pending/load").code == 200)
            #expect(try await env.status(slow) == "creating")
            #expect(try await env.status(held) == "creating")
            let loadedHeld = try await due(held)
            #expect(loadedHeld.held)
            let loadedDue = try await due(slow)
            let before = try #require(savedDue.due.flatMap(Self.date))
            let after = try #require(loadedDue.due.flatMap(Self.date))
            #expect(after.timeIntervalSince(before) >= 1.1, "due \(before) then \(after)")
            #expect(after.timeIntervalSince(before) < 60)
        }
    }

    static func date(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }

    @Test("names, duplicates, replace, unknown states and accounts: the error array with 400, 404, 409 and 405")
    func errors() async throws {
        try await withDrivesd { env in
            for bad in [#"{}"#, #"{"name": ""}"#, #"{"name": "a/b"}"#, #"{"name": "x y"}"#, #"{"name": 5}"#, #"{"name": "ok", "replace": "yes"}"#] {
                let reply = try await admin(env, .post, "/_drivesd/states", body: bad)
                #expect(reply.code == 400, "\(bad): \(reply.text)")
                #expect(reply.error.type == "validation")
            }
            #expect(try await admin(env, .get, "/_drivesd/states").json?["objects"] == .array([]))
            _ = try await env.createDrive(name: "first")
            #expect(try await admin(env, .post, "/_drivesd/states", body: #"{"name": "s.1_x-y"}"#).code == 201)
            let twice = try await admin(env, .post, "/_drivesd/states", body: #"{"name": "s.1_x-y"}"#)
            #expect(twice.code == 409)
            #expect(twice.error.type == "validation" && twice.error.point == "name")
            _ = try await env.createDrive(name: "second")
            let replaced = try await admin(env, .post, "/_drivesd/states", body: #"{"name": "s.1_x-y", "replace": true}"#)
            #expect(replaced.code == 201)
            #expect(replaced.json?["drives"] == .int(2))
            #expect(try await admin(env, .get, "/_drivesd/states/s.1_x-y").json?["drives"] == .int(2))
            let unknownAccount = try await admin(env, .post, "/_drivesd/states", body: #"{"name": "n", "account": "nobody@example.com"}"#)
            #expect(unknownAccount.code == 404 && unknownAccount.error.point == "account")
            #expect(try await admin(env, .post, "/_drivesd/states/missing/load").code == 404)
            #expect(try await admin(env, .get, "/_drivesd/states/missing").code == 404)
            #expect(try await admin(env, .delete, "/_drivesd/states/missing").code == 404)
            #expect(try await admin(env, .put, "/_drivesd/states").code == 405)
            #expect(try await admin(env, .get, "/_drivesd/states/s.1_x-y/load").code == 405)
            // Users never reach it.
            #expect(try await env.request(.get, "/_drivesd/states").code == 401)
            #expect(try await admin(env, .delete, "/_drivesd/states/s.1_x-y").code == 204)
            #expect(try await admin(env, .get, "/_drivesd/states").json?["objects"] == .array([]))
        }
    }

    @Test("a load moves the response cache: an answer cached before the load is never served after it")
    func cacheSeesTheLoad() async throws {
        try await withDrivesd { env in
            let drive = try await env.createDrive(name: "cached")
            try await env.tick()
            #expect(try await admin(env, .post, "/_drivesd/states", body: #"{"name": "c"}"#).code == 201)
            #expect(try await env.request(.delete, "/api/2.0/drives/\(drive)/").code == 204)
            // Cached: the 404 and the empty list.
            #expect(try await env.get("/api/2.0/drives/\(drive)/").code == 404)
            #expect(try await env.get("/api/2.0/drives/").totalCount == 0)
            #expect(try await admin(env, .post, "/_drivesd/states/c/load").code == 200)
            #expect(try await env.get("/api/2.0/drives/\(drive)/").json?["name"]?.stringValue == "cached")
            #expect(try await env.get("/api/2.0/drives/").totalCount == 1)
        }
    }
}
