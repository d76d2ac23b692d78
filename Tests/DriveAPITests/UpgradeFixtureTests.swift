import Crypto
import DriveAPI
import DriveContent
import DriveModel
import DriveStorage
import DriveStore
import Foundation
import HTTPTypes
import Testing

/// A database written by an earlier release (`Fixtures/upgrade/<release>/previous-release.db`,
/// one directory per release, made by `scripts/make-upgrade-fixture`; see the README beside each)
/// opens with this code, migrates in place, keeps everything that release served
/// (`expected.json`), and its pending work completes. Releases whose drives hold bytes also left
/// their data directory (`data-dir/`) and what it held (`content` in expected.json): it opens in
/// place too, with nothing lost. Every fixture kept runs through every test.
@Suite("Upgrade: a database written by the previous release", .enabled(if: !TestBackend.isPostgres, "SQLite files of earlier releases"))
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

    /// A copy of the fixture: the files in the tree stay as that release wrote them. Its data
    /// directory, when the release kept one (`data-dir/`), is copied to `<copy>-data`, the data
    /// directory `withDrivesd` gives a database path.
    static func copyOfFixture(_ release: String) throws -> String {
        let copy = TestDatabase.temporaryPath()
        try FileManager.default.copyItem(
            atPath: root.appendingPathComponent("\(release)/previous-release.db").path, toPath: copy)
        let dataDir = root.appendingPathComponent("\(release)/data-dir").path
        if FileManager.default.fileExists(atPath: dataDir) {
            try FileManager.default.copyItem(atPath: dataDir, toPath: copy + "-data")
        }
        return copy
    }

    /// Removes a copy of a fixture, and the data directory beside it (copied, or made at start).
    static func removeCopy(_ path: String) {
        TestDatabase.remove(path)
        try? FileManager.default.removeItem(atPath: path + "-data")
    }

    /// The releases from before Digest: their schema (plain text in the file) has no HA1 column.
    static let beforeDigest: [String] = releases.filter { release in
        let db = (try? Data(contentsOf: root.appendingPathComponent("\(release)/previous-release.db"))) ?? Data()
        return db.range(of: Data("digest_ha1".utf8)) == nil
    }

    /// A drive as an earlier release answered it, with this release's `runtime.is_snapshotable`:
    /// a boolean in every status (earlier releases answered null while `creating` or
    /// `cloning_dst`, as the older captures do).
    static func snapshotableNow(_ drive: JSONValue) -> JSONValue {
        guard var object = drive.objectValue, var runtime = drive["runtime"]?.objectValue, runtime["is_snapshotable"] == .null
        else { return drive }
        runtime["is_snapshotable"] = .bool(runtime["is_ephemeral"] != .bool(true) && object["storage_type"] != .string("local_nvme"))
        object["runtime"] = .object(runtime)
        return .object(object)
    }

    /// A server as stored by an earlier release, its `drives` in this release's order.
    static func drivesInCurrentOrder(_ server: JSONValue) -> JSONValue {
        guard var object = server.objectValue, let drives = object["drives"]?.arrayValue else { return server }
        func key(_ mount: JSONValue) -> (String, Int, Int) {
            let parts = (mount["dev_channel"]?.stringValue ?? "").split(separator: ":").compactMap { Int($0) }
            return (mount["device"]?.stringValue ?? "", parts.first ?? Int.max, parts.count > 1 ? parts[1] : Int.max)
        }
        object["drives"] = .array(drives.enumerated().sorted { a, b in
            let (ka, kb) = (key(a.element), key(b.element))
            return ka != kb ? ka < kb : a.offset < b.offset
        }.map(\.element))
        return .object(object)
    }

    /// How many of both accounts' drives the release served in each status.
    static func statusCounts(_ expected: JSONValue) -> [String: Int] {
        var counts: [String: Int] = [:]
        for name in ["alice", "bob"] {
            for drive in expected[name]?["drives"]?.arrayValue ?? [] {
                counts[drive["status"]?.stringValue ?? "?", default: 0] += 1
            }
        }
        return counts
    }

    static func hasContent(_ release: String) -> Bool {
        FileManager.default.fileExists(atPath: root.appendingPathComponent("\(release)/data-dir").path)
    }

    /// Deterministic bytes, none of them zero.
    static func pattern(count: Int, seed: UInt64) -> [UInt8] {
        var state = seed &* 6364136223846793005 &+ 1442695040888963407
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 33) | 1
        }
    }

    @Test("the fixtures of the previous releases are there")
    func fixturesKept() throws {
        #expect(Self.releases.contains("6b6d16f"))
        #expect(Self.releases.contains("4b5cdd5"), "the release before drive_relations (schema 0013)")
        #expect(Self.releases.contains("389aafe"), "the release before the drive indexes (schema 0014)")
        #expect(Self.releases.count >= 2)
        #expect(Self.beforeDigest.contains("7b38156") && !Self.beforeDigest.contains("f317eda"))
        // At least one release left drives with bytes, and each that did says what they held.
        let withContent = Self.releases.filter(Self.hasContent)
        #expect(!withContent.isEmpty)
        for release in withContent {
            #expect(try Self.expected(release)["content"] != nil, "\(release) has data-dir/ but no content in expected.json")
        }
    }

    @Test(
        "users of a release before Digest: Digest refused until their next Basic login stores the HA1; sessions and tokens work",
        arguments: beforeDigest)
    func credentialsAfterUpgrade(release: String) async throws {
        let path = try Self.copyOfFixture(release)
        defer { Self.removeCopy(path) }
        try await withDrivesd(path: path) { env in
            let uri = "/api/2.0/drives/"
            func digest(_ account: Account) async throws -> Int {
                let challenge = try await AuthenticationTests.digestChallenge(env)
                let header = AuthenticationTests.digest(challenge, user: account.user.email, password: account.password, uri: uri)
                return try await env.request(.get, uri, authenticated: false, headers: [.authorization: header]).code
            }
            #expect(try await digest(env.alice) == 401)
            #expect(try await env.get(uri).code == 200)  // Basic: derives the HA1
            #expect(try await digest(env.alice) == 200)
            #expect(try await digest(env.bob) == 401, "bob has not logged in with Basic yet")
            let (session, _) = try await AuthenticationTests.logIn(env, env.bob)
            #expect(try await env.request(.get, uri, authenticated: false, headers: [.cookie: "sessionid=\(session)"]).code == 200)
            #expect(try await digest(env.bob) == 200, "a session login knows the password too")
            let token = try await env.api.stores.accounts.createToken(user: env.bob.user.uuid, expiresIn: nil, now: Date())
            #expect(try await env.request(.get, uri, headers: [.authorization: "Bearer \(token.token)"]).code == 200)
        }
    }

    @Test(
        "opens and migrates in place; every drive, server, tag and job of both accounts is kept, and isolated",
        arguments: releases)
    func keepsEverything(release: String) async throws {
        let expected = try Self.expected(release)
        let path = try Self.copyOfFixture(release)
        defer { Self.removeCopy(path) }
        // The fixture is rich enough for the comparisons below to mean something.
        let aliceDrives = try #require(expected["alice"]?["drives"]?.arrayValue)
        #expect(aliceDrives.count >= 10)
        var statuses: Set<String> = ["unmounted", "mounted", "creating", "resizing", "cloning_src", "cloning_dst"]
        if expected["content"] != nil { statuses.insert("uploading") }  // the unfinished upload
        #expect(Set(aliceDrives.compactMap { $0["status"]?.stringValue }) == statuses)
        #expect(
            Set((expected["alice"]?["servers"]?.arrayValue ?? []).compactMap { $0["status"]?.stringValue })
                == ["stopped", "running", "starting", "stopping"])
        #expect(Set((expected["alice"]?["jobs"]?.arrayValue ?? []).compactMap { $0["state"]?.stringValue }) == ["started", "success"])

        let servedStatuses = Self.statusCounts(expected)
        try await withDrivesd(path: path) { env in
            // The accounts are the fixture's (withDrivesd would have made new ones, with new
            // uuids), and their stored password hashes still authenticate every request below.
            #expect(env.alice.user.uuid == expected["accounts"]?["alice"]?["uuid"]?.stringValue)
            #expect(env.bob.user.uuid == expected["accounts"]?["bob"]?["uuid"]?.stringValue)
            // Releases with profiles kept Alice's as stored; every release before them: each
            // account gets the default profile. Both can change it.
            let profile = try await env.get("/api/2.0/profile/")
            #expect(profile.code == 200)
            if let stored = expected["profile"] {
                #expect(profile.json == stored, "\(jsonDifferences(stored, profile.json, at: "profile"))")
                #expect(stored["clone_naming"] == .string("COUNTER"))
            } else {
                #expect(profile.json?["clone_naming"] == .string("NONE"))
            }
            #expect(try await env.get("/api/2.0/profile/", as: env.bob).json?["clone_naming"] == .string("NONE"))
            #expect(profile.json?["uuid"] == .string(env.alice.user.uuid))
            let counter = try await env.request(.put, "/api/2.0/profile/", body: #"{"clone_naming": "COUNTER"}"#, as: env.bob)
            #expect(counter.json?["clone_naming"] == .string("COUNTER"))
            // Every release before networking: `serve` gives each account its IP and VLAN at
            // start, and the rebuilt tag relation takes them beside what it held.
            try await env.api.stores.networks.allot(ips: 1, vlans: 1)
            for account in [env.alice, env.bob] {
                #expect(try await env.get("/api/2.0/ips/", as: account).totalCount == 1)
                #expect(try await env.get("/api/2.0/vlans/", as: account).totalCount == 1)
            }
            let ip = try #require(try await env.get("/api/2.0/ips/").first?["uuid"]?.stringValue)
            let vlan = try #require(try await env.get("/api/2.0/vlans/").first?["uuid"]?.stringValue)
            let netTag = try await env.request(
                .post, "/api/2.0/tags/", body: #"{"name": "net", "resources": ["\#(ip)", "\#(vlan)"]}"#)
            #expect(netTag.code == 201, "\(netTag.text)")
            #expect(netTag.first?["resources"]?.arrayValue?.compactMap { $0["res_type"]?.stringValue } == ["ips", "vlans"])
            let netTagUUID = try #require(netTag.first?["uuid"]?.stringValue)
            #expect(try await env.request(.delete, "/api/2.0/tags/\(netTagUUID)/").code == 204)

            for (name, account) in [("alice", env.alice), ("bob", env.bob)] {
                // Releases with snapshots (7b38156 on) kept theirs too.
                let collections = ["drives", "servers", "tags", "jobs"] + (expected[name]?["snapshots"] != nil ? ["snapshots"] : [])
                for collection in collections {
                    let want = try #require(expected[name]?[collection]?.arrayValue)
                    let reply = try await env.get("/api/2.0/\(collection)/detail/?limit=0", as: account)
                    #expect(reply.code == 200, "\(name) \(collection): \(reply.text)")
                    #expect(reply.totalCount == Int64(want.count), "\(name) \(collection)")
                    // Same objects, in the same order.
                    #expect(reply.objects.map { $0["uuid"] } == want.map { $0["uuid"] }, "\(name) \(collection)")
                    for stored in want {
                        // Releases before f317eda's successor answered a server's drives in the
                        // order given; now they come in the real API's order (by device, then
                        // channel). The mounts themselves are kept.
                        let object =
                            switch collection {
                            case "servers": Self.drivesInCurrentOrder(stored)
                            case "drives": Self.snapshotableNow(stored)
                            default: stored
                            }
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
            // The admin's drives by status (since schema 0014 the unmounted ones are the
            // accounts' totals less the drives in the partial index) are the statuses served.
            let stats = try await env.api.stores.admin.stats()
            #expect(stats.drivesByStatus == servedStatuses)
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

    @Test(
        "the drives' bytes are kept: files, downloads, the unfinished upload (resumed and finished), the figures, verify",
        arguments: releases)
    func keepsContent(release: String) async throws {
        let expected = try Self.expected(release)
        let roles = try #require(expected["roles"])
        let path = try Self.copyOfFixture(release)
        defer { Self.removeCopy(path) }

        guard let content = expected["content"] else {
            // A release before drives held bytes: its drives read as zeros, and the data directory
            // made at the first start (the library's images) is sound.
            #expect(!Self.hasContent(release))
            try await withDrivesd(path: path) { env in
                for role in ["plain", "plain_clone", "library_clone"] {
                    let uuid = try #require(roles[role]?.stringValue)
                    let head = try await env.send(.get, "/api/2.0/drives/\(uuid)/download/", headers: [.range: "bytes=0-4095"])
                    #expect(head.status == .partialContent, "\(role): \(head.status)")
                    #expect(sameBytes(head.body, [UInt8](repeating: 0, count: 4096)), "\(role)")
                }
                let report = try await env.api.content.verify(repair: false)
                #expect(report.damaged.isEmpty, "\(report.damaged)")
                #expect(report.unreferenced.isEmpty, "\(report.unreferenced)")
            }
            return
        }
        #expect(Self.hasContent(release), "expected.json has content but the fixture has no data-dir/")
        let dataCopy = path + "-data"
        let files = try #require(content["files"]?.objectValue)
        #expect(!files.isEmpty)
        let storage = try #require(content["storage"])
        let deleted = try #require(content["deleted"])
        let deletedUUID = try #require(deleted["uuid"]?.stringValue)
        let deletedImage = try #require(fixtureInteger(deleted["image"]))
        let library = try #require(content["library_clone"])
        let libraryUUID = try #require(library["uuid"]?.stringValue)
        #expect(libraryUUID == roles["library_clone"]?.stringValue)
        let libraryLength = try #require(fixtureInteger(library["length"]))
        // The unfinished upload: its size, its chunks (0-based for upload links, 1-based for
        // resumable.js; the last runs to the end) and the ranges [start, end) acknowledged.
        let unfinished = try #require(content["unfinished"])
        let uploadUUID = try #require(unfinished["uuid"]?.stringValue)
        let size = try #require(fixtureInteger(unfinished["size"]))
        let chunkSize = try #require(fixtureInteger(unfinished["chunk_size"]))
        let chunks = try #require(fixtureInteger(unfinished["chunks"]))
        #expect(chunks == max(1, size / chunkSize))
        var acknowledgedRanges: [(range: Range<Int64>, sha256: String)] = []
        for item in unfinished["acknowledged"]?.arrayValue ?? [] {
            let start = try #require(fixtureInteger(item["start"]))
            let end = try #require(fixtureInteger(item["end"]))
            let digest = try #require(item["sha256"]?.stringValue)
            acknowledgedRanges.append((range: start..<end, sha256: digest))
        }
        let acknowledged = acknowledgedRanges
        #expect(!acknowledged.isEmpty)
        let chunkRanges: [Range<Int64>] = (0..<chunks).map { number in
            let start = number * chunkSize
            return start..<(number == chunks - 1 ? size : start + chunkSize)
        }
        let present: [Bool] = chunkRanges.map { range in
            acknowledged.contains { $0.range.lowerBound <= range.lowerBound && range.upperBound <= $0.range.upperBound }
        }
        #expect(present.contains(true) && present.contains(false))

        try await withDrivesd(path: path) { env in
            #expect(env.api.content.directory.root == dataCopy)

            // Every file that release left is still there, unchanged: the start (migrations, the
            // sweep of unreferenced files, the library's images) removed or rewrote none.
            for (relative, file) in files {
                guard let data = FileManager.default.contents(atPath: dataCopy + "/" + relative) else {
                    Issue.record("\(relative) is gone")
                    continue
                }
                #expect(Int64(data.count) == fixtureInteger(file["bytes"]), "\(relative)")
                #expect(fixtureSHA256(Array(data)) == file["sha256"]?.stringValue, "\(relative)")
            }

            // The figures of GET /_drivesd/storage, as recorded.
            let stats = try await env.api.stores.content.stats()
            #expect(stats.logicalBytes == fixtureInteger(storage["logical_bytes"]))
            #expect(stats.storedBytes == fixtureInteger(storage["stored_bytes"]))
            #expect(stats.sharedBytes == fixtureInteger(storage["shared_bytes"]))
            #expect(stats.pieces == fixtureInteger(storage["pieces"]))
            #expect(stats.images == fixtureInteger(storage["images"]))

            // Every extent referenced is there with its length and checksum; nothing unreferenced.
            let report = try await env.api.content.verify(repair: false)
            #expect(report.damaged.isEmpty, "\(report.damaged)")
            #expect(report.unreferenced.isEmpty, "\(report.unreferenced)")
            #expect(Int64(report.checked) == stats.pieces)

            func download(_ uuid: String, _ range: Range<Int64>) async throws -> [UInt8] {
                let reply = try await env.send(
                    .get, "/api/2.0/drives/\(uuid)/download/", headers: [.range: "bytes=\(range.lowerBound)-\(range.upperBound - 1)"])
                #expect(reply.status == .partialContent, "download \(uuid) \(range): \(reply.status)")
                #expect(reply.body.count == range.count, "download \(uuid) \(range)")
                return reply.body
            }

            // The upload and its clone (sharing its bytes) hold what was uploaded, then zeros.
            for key in ["uploaded", "uploaded_clone"] {
                let drive = try #require(content[key])
                let uuid = try #require(drive["uuid"]?.stringValue)
                let length = try #require(fixtureInteger(drive["length"]))
                let bytes = try await download(uuid, 0..<length)
                #expect(fixtureSHA256(bytes) == drive["sha256"]?.stringValue, "\(key)")
                let after = try await download(uuid, length..<(length + 4096))
                #expect(after == [UInt8](repeating: 0, count: 4096), "\(key)")
                let served = try await env.get("/api/2.0/drives/\(uuid)/").json
                #expect(served?["status"]?.stringValue == "unmounted", "\(key)")
                #expect(fixtureInteger(served?["size"]) == fixtureInteger(drive["size"]), "\(key)")
            }

            // The library clone holds the header that release wrote.
            let head = try await download(libraryUUID, 0..<libraryLength)
            #expect(fixtureSHA256(head) == library["sha256"]?.stringValue)

            // The deleted upload is gone, with its image and files.
            #expect(try await env.get("/api/2.0/drives/\(deletedUUID)/").code == 404)
            let images = try await env.api.stores.content.imageIDs()
            #expect(!images.contains(deletedImage))
            #expect(!FileManager.default.fileExists(atPath: env.api.content.directory.imageDirectory(deletedImage)))

            // The unfinished upload is still uploading, at its exact size; resumable.js's test
            // answers 200 for the chunks inside the acknowledged ranges, 404 for the others, and
            // the link action refuses the acknowledged chunks (416).
            let uploading = try await env.get("/api/2.0/drives/\(uploadUUID)/").json
            #expect(uploading?["status"]?.stringValue == "uploading")
            #expect(fixtureInteger(uploading?["size"]) == size)
            #expect(try await env.send(.get, "/api/2.0/drives/\(uploadUUID)/download/").status == .forbidden)
            func resumable(_ number: Int64) async throws -> HTTPResponse.Status {
                let query = "?resumableChunkNumber=\(number + 1)&resumableChunkSize=\(chunkSize)&resumableTotalSize=\(size)"
                return try await env.send(.get, "/api/2.0/drives/\(uploadUUID)/upload/" + query).status
            }
            func link(_ number: Int64) async throws -> Reply {
                try await env.request(
                    .post, "/api/2.0/drives/\(uploadUUID)/action/?do=upload_chunk",
                    body: #"{"chunk_number": \#(number), "chunk_size": \#(chunkSize)}"#)
            }
            for number in 0..<chunks {
                let want: HTTPResponse.Status = present[Int(number)] ? .ok : .notFound
                #expect(try await resumable(number) == want, "resumable test of chunk \(number + 1)")
                if present[Int(number)] {
                    #expect(try await link(number).code == 416, "link for the acknowledged chunk \(number)")
                }
            }

            // Finished through upload links (no credentials): the last chunk completes it.
            var sent: [(range: Range<Int64>, bytes: [UInt8])] = []
            for number in 0..<chunks where !present[Int(number)] {
                #expect(try await env.status(uploadUUID) == "uploading")
                let reply = try await link(number)
                #expect(reply.code == 200, "link for chunk \(number): \(reply.text)")
                let target = try #require(reply.json?["link"]?.stringValue)
                let range = chunkRanges[Int(number)]
                let bytes = Self.pattern(count: range.count, seed: UInt64(number) + 100)
                let written = try await env.send(.post, target, bytes: bytes, authenticated: false)
                #expect(written.status == .ok, "chunk \(number): \(written.status)")
                sent.append((range: range, bytes: bytes))
            }
            let finished = try await env.get("/api/2.0/drives/\(uploadUUID)/").json
            #expect(finished?["status"]?.stringValue == "unmounted")
            #expect((fixtureInteger(finished?["size"]) ?? 0) >= size)
            #expect(try await resumable(0) == .ok)
            // What that release acknowledged, and what was written now.
            for item in acknowledged {
                let bytes = try await download(uploadUUID, item.range)
                #expect(fixtureSHA256(bytes) == item.sha256, "acknowledged \(item.range)")
            }
            for item in sent {
                let bytes = try await download(uploadUUID, item.range)
                #expect(bytes == item.bytes, "written now \(item.range)")
            }

            let after = try await env.api.content.verify(repair: false)
            #expect(after.damaged.isEmpty, "\(after.damaged)")
            #expect(after.unreferenced.isEmpty, "\(after.unreferenced)")
        }
    }

    @Test("an upgraded database saves and loads named states: the release's objects come back as they were", arguments: releases)
    func statesAfterUpgrade(release: String) async throws {
        let path = try Self.copyOfFixture(release)
        defer { Self.removeCopy(path) }
        try await withDrivesd(path: path) { env in
            let alice = try await StatesTests.view(env, as: env.alice, bytes: false)
            let bob = try await StatesTests.view(env, as: env.bob, bytes: false)
            let save = try await env.request(.post, "/_drivesd/states", body: #"{"name": "upgraded"}"#, headers: Self.admin)
            #expect(save.code == 201, "\(save.text)")
            _ = try await env.createDrive(name: "after the save")
            _ = try await env.createDrive(name: "bob's, after the save", as: env.bob)
            let load = try await env.request(.post, "/_drivesd/states/upgraded/load", headers: Self.admin)
            #expect(load.code == 200, "\(load.text)")
            #expect(StatesTests.difference(alice, try await StatesTests.view(env, as: env.alice, bytes: false)) == "none")
            #expect(StatesTests.difference(bob, try await StatesTests.view(env, as: env.bob, bytes: false)) == "none")
        }
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
        // An upload left unfinished (releases with content) stays `uploading`: no transition moves it.
        let unfinishedUpload = expected["content"]?["unfinished"]?["uuid"]?.stringValue
        let path = try Self.copyOfFixture(release)
        defer { Self.removeCopy(path) }

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
                    let statuses = try await env.get("/api/2.0/\(collection)/detail/?limit=0", as: who).objects.filter {
                        $0["uuid"]?.stringValue != unfinishedUpload
                    }.compactMap { $0["status"]?.stringValue }
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
            // Immediate: the create completes in its own transaction, before any tick.
            let fresh = try await env.createDrive(name: "after-upgrade")
            #expect(try await env.status(fresh) == "unmounted")
            #expect(try await env.tick() == [])
            let manual = try await env.request(
                .put, "/_drivesd/transitions/create", body: #"{"mode": "manual"}"#, headers: Self.admin)
            #expect(manual.code == 200)
            let held = try await env.createDrive(name: "held-after-upgrade")
            #expect(try await env.tick() == [])
            #expect(try await env.status(held) == "creating")
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

/// An integer of expected.json.
private func fixtureInteger(_ value: JSONValue?) -> Int64? {
    switch value {
    case .int(let i)?:
        return i
    case .double(let d)? where d == d.rounded():
        return Int64(d)
    default:
        return nil
    }
}

/// SHA-256 in lowercase hex, as the fixture script records it.
private func fixtureSHA256(_ bytes: [UInt8]) -> String {
    SHA256.hash(data: bytes).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
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
