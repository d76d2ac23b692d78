import DriveAPI
import DriveModel
import DriveStore
import Foundation
import HTTPTypes
import Testing

/// A database written by an earlier release (`Fixtures/upgrade/<release>/previous-release.db`,
/// one directory per release, made by `scripts/make-upgrade-fixture`; see the README beside each)
/// opens with this code, migrates in place, keeps everything that release served
/// (`expected.json`), and its pending work completes. Every fixture kept runs through both tests.
@Suite("Upgrade: a database written by the previous release")
struct UpgradeFixtureTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/upgrade")
    static let admin: HTTPFields = [.authorization: "Basic " + Data("admin:admin".utf8).base64EncodedString()]

    /// The releases whose databases are kept, oldest first by directory name order.
    static let releases: [String] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return names.filter {
            FileManager.default.fileExists(atPath: root.appendingPathComponent("\($0)/previous-release.db").path)
        }.sorted()
    }()

    static func expected(_ release: String) throws -> JSONValue {
        try JSONDecoder().decode(
            JSONValue.self, from: Data(contentsOf: root.appendingPathComponent("\(release)/expected.json")))
    }

    /// A copy of the fixture: the file in the tree stays as that release wrote it.
    static func copyOfFixture(_ release: String) throws -> String {
        let copy = TestDatabase.temporaryPath()
        try FileManager.default.copyItem(
            atPath: root.appendingPathComponent("\(release)/previous-release.db").path, toPath: copy)
        return copy
    }

    @Test("the fixtures of the previous releases are there")
    func fixturesKept() {
        #expect(Self.releases.contains("6b6d16f"))
        #expect(Self.releases.count >= 2)
    }

    @Test(
        "opens and migrates in place; every drive, server, tag and job of both accounts is kept, and isolated",
        arguments: releases)
    func keepsEverything(release: String) async throws {
        let expected = try Self.expected(release)
        let path = try Self.copyOfFixture(release)
        defer { TestDatabase.remove(path) }
        // The fixture is rich enough for the comparisons below to mean something.
        let aliceDrives = try #require(expected["alice"]?["drives"]?.arrayValue)
        #expect(aliceDrives.count >= 10)
        #expect(
            Set(aliceDrives.compactMap { $0["status"]?.stringValue })
                == ["unmounted", "mounted", "creating", "resizing", "cloning_src", "cloning_dst"])
        #expect(
            Set((expected["alice"]?["servers"]?.arrayValue ?? []).compactMap { $0["status"]?.stringValue })
                == ["stopped", "running", "starting", "stopping"])
        #expect(Set((expected["alice"]?["jobs"]?.arrayValue ?? []).compactMap { $0["state"]?.stringValue }) == ["started", "success"])

        try await withDrivesd(path: path) { env in
            // The accounts are the fixture's (withDrivesd would have made new ones, with new
            // uuids), and their stored password hashes still authenticate every request below.
            #expect(env.alice.user.uuid == expected["accounts"]?["alice"]?["uuid"]?.stringValue)
            #expect(env.bob.user.uuid == expected["accounts"]?["bob"]?["uuid"]?.stringValue)

            for (name, account) in [("alice", env.alice), ("bob", env.bob)] {
                for collection in ["drives", "servers", "tags", "jobs"] {
                    let want = try #require(expected[name]?[collection]?.arrayValue)
                    let reply = try await env.get("/api/2.0/\(collection)/detail/?limit=0", as: account)
                    #expect(reply.code == 200, "\(name) \(collection): \(reply.text)")
                    #expect(reply.totalCount == Int64(want.count), "\(name) \(collection)")
                    // Same objects, in the same order.
                    #expect(reply.objects.map { $0["uuid"] } == want.map { $0["uuid"] }, "\(name) \(collection)")
                    for object in want {
                        let uuid = try #require(object["uuid"]?.stringValue)
                        let listed = reply.objects.first { $0["uuid"]?.stringValue == uuid }
                        let diffs = jsonDifferences(object, listed, at: "\(name).\(collection)[\(uuid)]")
                        #expect(diffs.isEmpty, "\(diffs)")
                        let one = try await env.get("/api/2.0/\(collection)/\(uuid)/", as: account)
                        #expect(one.code == 200, "\(name) \(collection) \(uuid): \(one.text)")
                        let oneDiffs = jsonDifferences(object, one.json, at: "\(name) GET \(collection)/\(uuid)")
                        #expect(oneDiffs.isEmpty, "\(oneDiffs)")
                    }
                }
            }
            let libraryClone = try #require(expected["library_clone"])
            let libraryUUID = try #require(libraryClone["uuid"]?.stringValue)
            let libraryDiffs = jsonDifferences(libraryClone, try await env.get("/api/2.0/drives/\(libraryUUID)/").json, at: "library clone")
            #expect(libraryDiffs.isEmpty, "\(libraryDiffs)")
            #expect(libraryClone["licenses"]?.arrayValue?.isEmpty == false)

            let modes = try await env.request(.get, "/_drivesd/transitions", headers: Self.admin)
            let modeDiffs = jsonDifferences(try #require(expected["transition_modes"]), modes.json, at: "transition modes")
            #expect(modeDiffs.isEmpty, "\(modeDiffs)")

            // Isolation: neither account sees the other's drives, servers, tags or jobs.
            for (owner, other, account) in [("alice", "bob", env.bob), ("bob", "alice", env.alice)] {
                for collection in ["drives", "servers", "tags", "jobs"] {
                    for object in expected[owner]?[collection]?.arrayValue ?? [] {
                        let uuid = try #require(object["uuid"]?.stringValue)
                        let reply = try await env.get("/api/2.0/\(collection)/\(uuid)/", as: account)
                        #expect(reply.code == 404, "\(other) reads \(owner)'s \(collection) \(uuid): \(reply.code)")
                    }
                }
                let foreign = try #require(expected[owner]?["drives"]?.arrayValue?.first?["uuid"]?.stringValue)
                #expect(try await env.get("/api/2.0/drives/detail/?uuid=\(foreign)", as: account).totalCount == 0)
            }
        }

        // The copy now carries every migration this code knows, and is sound.
        let database = try AppDatabase.open(path: path)
        defer { try? database.close() }
        let applied = try database.appliedMigrations()
        #expect(applied == AppDatabase.knownMigrations.sorted())
        if case .int(let before)? = expected["table_counts"]?["grdb_migrations"] {
            #expect(applied.count >= Int(before))
        } else {
            Issue.record("expected.json has no grdb_migrations count")
        }
        #expect(try database.integrityCheck() == "ok")
    }

    @Test("pending work completes: timed transitions exactly when due, held ones when released", arguments: releases)
    func pendingWorkCompletes(release: String) async throws {
        let expected = try Self.expected(release)
        let roles = try #require(expected["roles"])
        let pending = try #require(expected["pending"]?.arrayValue)
        let timed = pending.filter { $0["held"] == .bool(false) }.sorted { due($0) < due($1) }
        let held = pending.filter { $0["held"] == .bool(true) }
        #expect(timed.count == 2)
        #expect(held.count == 5)  // two creates (alice, bob), a resize, a clone, a start
        let path = try Self.copyOfFixture(release)
        defer { TestDatabase.remove(path) }

        try await withDrivesd(path: path) { env in
            let bobUUIDs = Set((expected["bob"]?["drives"]?.arrayValue ?? []).compactMap { $0["uuid"]?.stringValue })
            func account(_ uuid: String) -> Account { bobUUIDs.contains(uuid) ? env.bob : env.alice }
            func object(_ item: JSONValue) async throws -> JSONValue? {
                let uuid = item["uuid"]?.stringValue ?? ""
                return try await env.get("/api/2.0/\(item["resource"]?.stringValue ?? "")/\(uuid)/", as: account(uuid)).json
            }
            func drive(_ uuid: String) async throws -> JSONValue? {
                try await env.get("/api/2.0/drives/\(uuid)/", as: account(uuid)).json
            }
            func server(_ uuid: String) async throws -> JSONValue? {
                try await env.get("/api/2.0/servers/\(uuid)/").json
            }
            func advance(_ operation: String) async throws -> JSONValue? {
                let reply = try await env.request(
                    .post, "/_drivesd/advance", body: #"{"operation": "\#(operation)"}"#, headers: Self.admin)
                #expect(reply.code == 200, "advance \(operation): \(reply.text)")
                return reply.json?["released"]
            }

            // Everything pending is still in its transient status.
            for item in pending {
                #expect(try await object(item)?["status"] == item["from_status"], "\(item)")
            }

            // Timed: each completes exactly at its due time, kept from the previous release.
            let timedResize = try #require(roles["timed_resize"])
            let timedResizeUUID = try #require(timedResize["uuid"]?.stringValue)
            let stopping = try #require(roles["stopping_server"])
            let stoppingUUID = try #require(stopping["uuid"]?.stringValue)
            #expect(Set(timed.compactMap { $0["uuid"]?.stringValue }) == [timedResizeUUID, stoppingUUID])
            for item in timed {
                let uuid = try #require(item["uuid"]?.stringValue)
                let early = try await env.api.worker.tick(now: Date(timeIntervalSince1970: due(item) - 2))
                #expect(!early.contains(uuid), "\(uuid) completed before its due time")
                #expect(try await object(item)?["status"] == item["from_status"], "\(item)")
                if uuid == timedResizeUUID {
                    #expect(try await drive(uuid)?["size"] == timedResize["from_size"])
                }
                let onTime = try await env.api.worker.tick(now: Date(timeIntervalSince1970: due(item) + 2))
                #expect(onTime == [uuid])
            }
            let resized = try await drive(timedResizeUUID)
            #expect(resized?["status"] == timedResize["rests_as"])
            #expect(resized?["size"] == timedResize["to_size"])
            #expect(resized?["mounted_on"]?.arrayValue?.count == 1)
            let stopped = try await server(stoppingUUID)
            #expect(stopped?["status"] == stopping["rests_as"])

            // Held: nothing moves, however late, until released.
            let late = Date(timeIntervalSince1970: due(timed.last!) + 86400)
            #expect(try await env.api.worker.tick(now: late).isEmpty)
            for item in held {
                #expect(try await object(item)?["status"] == item["from_status"], "\(item)")
            }

            // Released through the admin API, one operation at a time.
            let creates = try [#require(roles["held_create"]?.stringValue), #require(roles["bob_held_create"]?.stringValue)]
            #expect(try await advance("create") == .int(2))
            #expect(Set(try await env.tick()) == Set(creates))
            for uuid in creates {
                #expect(try await drive(uuid)?["status"] == .string("unmounted"))
            }
            #expect(try await env.get("/api/2.0/drives/\(creates[1])/").code == 404)  // bob's, not alice's

            let heldResize = try #require(roles["held_resize"])
            let heldResizeUUID = try #require(heldResize["uuid"]?.stringValue)
            #expect(try await drive(heldResizeUUID)?["size"] == heldResize["from_size"])
            #expect(try await advance("resize") == .int(1))
            try await env.tick()
            let afterResize = try await drive(heldResizeUUID)
            #expect(afterResize?["status"] == heldResize["rests_as"])
            #expect(afterResize?["size"] == heldResize["to_size"])

            let clone = try #require(roles["held_clone"])
            let source = try #require(clone["source"]?.stringValue)
            let destination = try #require(clone["destination"]?.stringValue)
            let job = try #require(clone["job"]?.stringValue)
            #expect(try await env.get("/api/2.0/jobs/\(job)/").json?["state"] == .string("started"))
            #expect(try await advance("clone") == .int(1))
            try await env.tick()
            #expect(try await drive(destination)?["status"] == .string("unmounted"))
            #expect(try await drive(source)?["status"] == clone["source_rests_as"])
            let finished = try await env.get("/api/2.0/jobs/\(job)/").json
            #expect(finished?["state"] == .string("success"))
            #expect(finished?["data"]?["progress"] == .int(100))
            for uuid in [source, destination] {
                #expect(try await drive(uuid)?["jobs"]?.arrayValue?.contains { $0["uuid"]?.stringValue == job } == true)
            }

            let starting = try #require(roles["starting_server"])
            let startingUUID = try #require(starting["uuid"]?.stringValue)
            #expect(try await advance("start") == .int(1))
            #expect(try await env.tick() == [startingUUID])
            let started = try await server(startingUUID)
            #expect(started?["status"] == starting["rests_as"])
            #expect(started?["drives"]?.arrayValue?.first?["drive"]?["uuid"] == starting["drive"])
            let startedDrive = try #require(starting["drive"]?.stringValue)
            #expect(try await drive(startedDrive)?["status"] == .string("mounted"))

            // Nothing is left pending or held, in either account.
            #expect(try await advance("create") == .int(0))
            for who in [env.alice, env.bob] {
                for collection in ["drives", "servers"] {
                    let statuses = try await env.get("/api/2.0/\(collection)/detail/?limit=0", as: who).objects.compactMap {
                        $0["status"]?.stringValue
                    }
                    #expect(!statuses.isEmpty)
                    #expect(
                        statuses.allSatisfy { ["unmounted", "mounted", "stopped", "running"].contains($0) },
                        "\(who.user.email) \(collection): \(statuses)")
                }
            }

            // The stored modes still work and can be changed.
            let immediate = try await env.request(
                .put, "/_drivesd/transitions/create", body: #"{"mode": "immediate"}"#, headers: Self.admin)
            #expect(immediate.code == 200)
            let fresh = try await env.createDrive(name: "after-upgrade")
            #expect(try await env.tick() == [fresh])
            #expect(try await env.status(fresh) == "unmounted")
        }
    }
}

/// The due time (unix seconds) of a timed pending transition of expected.json.
private func due(_ item: JSONValue) -> Double {
    switch item["due_at"] {
    case .double(let d)?: d
    case .int(let i)?: Double(i)
    default: .infinity
    }
}

/// Where `actual` differs from `expected`: every key of an expected object must be present with a
/// matching value (a later release may add keys), arrays match element by element, and numbers
/// compare by value.
private func jsonDifferences(_ expected: JSONValue, _ actual: JSONValue?, at path: String) -> [String] {
    guard let actual else { return ["\(path): missing"] }
    switch (expected, actual) {
    case (.object(let want), .object(let have)):
        return want.keys.sorted().flatMap { key in jsonDifferences(want[key]!, have[key], at: "\(path).\(key)") }
    case (.array(let want), .array(let have)):
        guard want.count == have.count else { return ["\(path): \(want.count) items expected, \(have.count) found"] }
        return zip(want, have).enumerated().flatMap { index, pair in jsonDifferences(pair.0, pair.1, at: "\(path)[\(index)]") }
    case (.int(let a), .double(let b)), (.double(let b), .int(let a)):
        return Double(a) == b ? [] : ["\(path): \(expected.jsonString) expected, \(actual.jsonString) found"]
    default:
        return expected == actual ? [] : ["\(path): \(expected.jsonString) expected, \(actual.jsonString) found"]
    }
}
