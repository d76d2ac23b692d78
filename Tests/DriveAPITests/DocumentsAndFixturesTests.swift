import DriveAPI
import DriveLifecycle
import DriveModel
import DriveStore
import Foundation
import HTTPTypes
import Testing

@Suite("Schema, licenses, capabilities and captured dumps")
struct DocumentsAndFixturesTests {
    @Test("GET /drives/schema/ serves the reference schema")
    func driveSchema() async throws {
        try await withDrivesd { env in
            let reply = try await env.get("/api/2.0/drives/schema/")
            #expect(reply.code == 200)
            let schema = try #require(reply.json)
            #expect(schema["default_limit"] == .int(20))
            #expect(schema["allowed_list_http_methods"] == .array(["get", "put", "delete", "post"].map(JSONValue.string)))
            #expect(schema["allowed_detail_http_methods"] == .array(["get", "put", "delete"].map(JSONValue.string)))
            #expect(schema["ordering"] == .array([.string("uuid"), .string("name")]))
            #expect(schema["filtering"]?["name__contains"] == .string("exact"))
            #expect(schema["fields"]?["media"]?["choices"] == .array([.string("cdrom"), .string("disk")]))
            #expect(schema["fields"]?["snapshots"]?["help_text"] == .string("Servers on which this drive is mounted on"))
        }
    }

    @Test("licenses: the seeded catalogue in the dump's order and shape; one license by id")
    func licenses() async throws {
        try await withDrivesd { env in
            let reply = try await env.get("/api/2.0/licenses/")
            #expect(reply.code == 200)
            let golden = try #require(try fixture("response_licenses_list").body)
            #expect(reply.json == golden)
            let one = try await env.get("/api/2.0/licenses/12/")
            #expect(one.json?["long_name"] == .string("Windows Server"))
            #expect(try await env.get("/api/2.0/licenses/999/").code == 404)
            #expect(try await env.get("/api/2.0/licenses/abc/").code == 404)
            #expect(try await env.get("/api/2.0/licenses/schema/").json?["fields"]?["burstable"] != nil)
        }
    }

    @Test("drives render licenses nested in full, accepting a URI, an id or an object")
    func driveLicenses() async throws {
        try await withDrivesd { env in
            let body = """
                {"name": "win", "size": 1073741824, "media": "disk", "licenses": [
                  {"amount": 2, "license": "/api/2.0/licenses/12/"},
                  {"license": 14},
                  {"license": {"resource_uri": "/api/2.0/licenses/15/"}}]}
                """
            let reply = try await env.request(.post, "/api/2.0/drives/", body: body)
            #expect(reply.code == 201)
            let licenses = try #require(reply.first?["licenses"]?.arrayValue)
            #expect(licenses.count == 3)
            #expect(licenses[0]["amount"] == .int(2))
            #expect(licenses[0]["user"] == .null)
            #expect(licenses[0]["license"]?["name"] == .string("msft_p73_04837_core"))
            #expect(licenses[1]["license"]?["resource_uri"] == .string("/api/2.0/licenses/14/"))
            #expect(licenses[2]["license"]?["long_name"] == .string("SQL Server Web"))
            let uuid = try #require(reply.first?["uuid"]?.stringValue)
            #expect(try await env.get("/api/2.0/drives/\(uuid)/").json?["licenses"]?.arrayValue?.count == 3)
        }
    }

    @Test("capabilities show the configured storage types and limits that validation enforces")
    func capabilities() async throws {
        let catalogue = StorageCatalogue(
            types: [StorageTypeLimits(name: "dssd", minSize: 1_073_741_824, maxSize: 2_147_483_648, iopsBase: 1, iopsMin: 1, iopsMax: 2)],
            defaultType: "dssd")
        try await withDrivesd(settings: APISettings(catalogue: catalogue, durations: OperationDurations.stepped)) { env in
            let caps = try await env.get("/api/2.0/capabilities/")
            #expect(caps.code == 200)
            #expect(caps.json?["default_storage_type"] == .string("dssd"))
            #expect(caps.json?["drives"]?["dssd"]?["size"]?["max"] == .int(2_147_483_648))
            #expect(caps.json?["drives"]?["nvme"] == nil)
            #expect(caps.json?["snapshots"] != nil)
            let tooBig = try await env.request(
                .post, "/api/2.0/drives/", body: #"{"name": "x", "size": 3221225472, "media": "disk"}"#)
            #expect(tooBig.code == 400)
            #expect(tooBig.error.point == "size")
            let notOffered = try await env.request(
                .post, "/api/2.0/drives/", body: #"{"name": "x", "size": 1073741824, "media": "disk", "storage_type": "nvme"}"#)
            #expect(notOffered.code == 400)
            #expect(notOffered.error.point == "storage_type")
        }
    }

    @Test(
        "responses have the shape of the captured dumps",
        arguments: [
            ("response_drive_create_minimal", "create"), ("response_drive_create_bulk", "create"),
            ("response_drive_list", "list"), ("response_drive_list_detail", "detail"),
            ("response_drive_list_just_uuid_and_status", "fields"), ("response_drive_get_unmounted", "get"),
            ("response_drive_edit", "edit"), ("response_drive_resize", "resize"),
            ("response_drive_resize_action", "resize_action"), ("response_drive_update_meta", "update_meta"),
        ])
    func goldenShapes(fixtureName: String, kind: String) async throws {
        let golden = try fixture(fixtureName)
        try await withDrivesd { env in
            let uuid = try await env.createDrive(name: "golden", size: 2_147_483_648)
            if kind != "create" { try await env.tick() }
            let reply: Reply
            switch kind {
            case "create":
                reply = try await env.request(
                    .post, "/api/2.0/drives/", body: #"{"objects": [{"media": "disk", "name": "test_drive_1", "size": 1073741824}]}"#)
            case "list": reply = try await env.get("/api/2.0/drives/?limit=0")
            case "detail": reply = try await env.get("/api/2.0/drives/detail/?limit=0")
            case "fields": reply = try await env.get("/api/2.0/drives/?fields=uuid,status")
            case "get": reply = try await env.get("/api/2.0/drives/\(uuid)/")
            case "edit":
                reply = try await env.request(
                    .put, "/api/2.0/drives/\(uuid)/", body: #"{"media": "cdrom", "name": "test_drive_y", "size": 2147483648}"#)
            case "resize":
                reply = try await env.request(
                    .put, "/api/2.0/drives/\(uuid)/", body: #"{"media": "disk", "name": "golden", "size": 5368709120}"#)
            case "resize_action":
                let request = try #require(try fixture("request_drive_resize_action").body?.objectValue)
                var body = request
                body["size"] = .int(4_294_967_296)
                reply = try await env.request(
                    .post, "/api/2.0/drives/\(uuid)/action/?do=resize", body: JSONValue.object(body).jsonString)
            default:
                // pycloudsigma's update: the captured request body (a whole drive, readonly keys and all).
                let request = try #require(try fixture("request_drive_update_meta").body?.objectValue)
                var body = request
                body["size"] = .int(2_147_483_648)
                reply = try await env.request(.put, "/api/2.0/drives/\(uuid)/", body: JSONValue.object(body).jsonString)
            }
            #expect(reply.code == golden.status, "\(fixtureName): \(reply.text)")
            let ours = try #require(reply.json)
            let diffs = shapeDifferences(golden: try #require(golden.body), ours: ours)
            #expect(diffs.isEmpty, "\(fixtureName): \(diffs)")
            if kind == "resize" || kind == "resize_action" {
                let drive = kind == "resize" ? ours : try #require(reply.first)
                #expect(drive["status"] == .string("resizing"))
                #expect(drive["size"] == .int(2_147_483_648))
            }
            if kind == "update_meta" {
                let request = try #require(try fixture("request_drive_update_meta").body)
                #expect(ours["meta"] == request["meta"])
            }
        }
    }
}

@Suite("Durability across restarts")
struct RestartTests {
    @Test("drives written before a restart are read after it, with their content")
    func persistence() async throws {
        let path = TestDatabase.temporaryPath()
        defer { TestDatabase.remove(path) }
        let uuid = LockedBox<String>()
        try await withDrivesd(path: path) { env in
            let id = try await env.createDrive(name: "persisted", extra: #", "meta": {"k": "v"}, "licenses": [{"license": 13}]"#)
            try await env.tick()
            uuid.value = id
        }
        try await withDrivesd(path: path) { env in
            let drive = try await env.get("/api/2.0/drives/\(try #require(uuid.value))/")
            #expect(drive.code == 200)
            #expect(drive.json?["name"] == .string("persisted"))
            #expect(drive.json?["meta"] == .object(["k": .string("v")]))
            #expect(drive.json?["status"] == .string("unmounted"))
            #expect(drive.json?["licenses"]?.arrayValue?.first?["license"]?["name"] == .string("msft_7jq_00341"))
        }
    }

    @Test("a drive still creating when the daemon stops becomes unmounted after it starts again")
    func pendingTransitionSurvives() async throws {
        let path = TestDatabase.temporaryPath()
        defer { TestDatabase.remove(path) }
        let uuid = LockedBox<String>()
        // A long create: the daemon stops before it is due.
        try await withDrivesd(
            settings: APISettings(durations: OperationDurations(createSeconds: 2, timeScale: 1)), path: path
        ) { env in
            // No worker runs in this first life: whatever the machine's load, the create is
            // still pending when the daemon stops.
            uuid.value = try await env.createDrive(name: "slow")
            #expect(try await env.status(try #require(uuid.value)) == "creating")
        }
        try await Task.sleep(for: .milliseconds(100))
        // Restarted with the worker running as a service: it finds the row and completes it.
        try await withDrivesd(path: path, runWorker: true) { env in
            let id = try #require(uuid.value)
            var status = try await env.status(id)
            for _ in 0..<400 where status != "unmounted" {
                try await Task.sleep(for: .milliseconds(20))
                status = try await env.status(id)
            }
            #expect(status == "unmounted")
            #expect(try await env.api.transitions.pendingCount() == 0)
        }
    }

    @Test("with time scale 0 the running worker completes a create asynchronously")
    func workerService() async throws {
        try await withDrivesd(runWorker: true) { env in
            let reply = try await env.request(
                .post, "/api/2.0/drives/", body: #"{"name": "async", "size": 1073741824, "media": "disk"}"#)
            #expect(reply.first?["status"] == .string("creating"))
            let id = try #require(reply.first?["uuid"]?.stringValue)
            var status = try await env.status(id)
            for _ in 0..<1000 where status != "unmounted" {
                try await Task.sleep(for: .milliseconds(10))
                status = try await env.status(id)
            }
            #expect(status == "unmounted")
        }
    }

    @Test("migrations: every file in migrations/ is embedded verbatim, applied once, in order")
    func migrations() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../migrations").standardizedFileURL
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".sql") }.sorted()
        #expect(files.map { String($0.dropLast(4)) } == AppDatabase.knownMigrations)
        let path = TestDatabase.temporaryPath()
        defer { TestDatabase.remove(path) }
        let database = try AppDatabase.open(path: path)
        #expect(try database.migrate() == AppDatabase.knownMigrations)
        #expect(try database.migrate().isEmpty)
        #expect(try database.appliedMigrations() == AppDatabase.knownMigrations.sorted())
        #expect(try database.isMigrated())
        try database.close()
        for file in files {
            let text = try String(contentsOf: dir.appendingPathComponent(file), encoding: .utf8)
            let embedded = AppDatabase.embeddedSQL(String(file.dropLast(4)))
            #expect(embedded == text.trimmingTrailingNewlines, "\(file) differs from the binary's copy: run scripts/embed-migrations")
        }
    }
}

/// A value set inside one `withDrivesd` and read in the next.
final class LockedBox<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T?
    var value: T? {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}

extension String {
    var trimmingTrailingNewlines: String {
        var s = self
        while s.hasSuffix("\n") { s.removeLast() }
        return s
    }
}

@Suite("Store invariants")
struct StoreInvariantTests {
    @Test("the kept drive count matches the drives, through creates, clones, deletes and resets")
    func ownerCounts() async throws {
        try await withDrivesd { env in
            func check() async throws {
                let all = try await env.get("/api/2.0/drives/?limit=0")
                #expect(all.totalCount == Int64(all.objects.count))
                let filtered = try await env.get("/api/2.0/drives/?limit=1&name__contains=")
                #expect(filtered.totalCount == all.totalCount)
            }
            var uuids: [String] = []
            for i in 0..<5 { uuids.append(try await env.createDrive(name: "c\(i)")) }
            try await env.tick()
            try await check()
            _ = try await env.request(.post, "/api/2.0/drives/\(uuids[0])/action/?do=clone")
            try await env.tick()
            try await check()
            _ = try await env.request(.delete, "/api/2.0/drives/\(uuids[1])/")
            _ = try await env.request(.delete, "/api/2.0/drives/", body: #"[{"uuid": "\#(uuids[2])"}, {"uuid": "nope"}]"#)
            try await check()
            #expect(try await env.get("/api/2.0/drives/").totalCount == 5)
            _ = try await env.admin(.post, "reset", body: #"{"account": "alice@example.com"}"#)
            try await check()
            #expect(try await env.get("/api/2.0/drives/").totalCount == 0)
        }
    }
}

@Suite("Shape comparison with the captures")
struct ShapeComparisonTests {
    static func json(_ text: String) throws -> JSONValue { try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) }

    @Test("only a null in the capture is a wildcard; a null, an empty list or a wrong type here differs unless the path is allowed")
    func rule() throws {
        let golden = try Self.json(#"{"a": 1, "b": [{"c": "x"}], "d": null, "e": true, "meta": {"k": "v"}}"#)
        #expect(shapeDifferences(golden: golden, ours: try Self.json(#"{"a": 2, "b": [{"c": "y"}], "d": [1], "e": false, "meta": {}}"#)).isEmpty)
        #expect(shapeDifferences(golden: golden, ours: try Self.json(#"{"a": null, "b": [{"c": "y"}], "d": 1, "e": true, "meta": {}}"#)) == ["$.a: number in the capture, null here"])
        #expect(shapeDifferences(golden: golden, ours: try Self.json(#"{"a": 1, "b": [], "d": 1, "e": true, "meta": {}}"#)) == ["$.b: 1 items in the capture, none here"])
        #expect(shapeDifferences(golden: golden, ours: try Self.json(#"{"a": 1, "b": null, "d": 1, "e": true, "meta": {}}"#)) == ["$.b: list in the capture, null here"])
        #expect(shapeDifferences(golden: golden, ours: try Self.json(#"{"a": 1, "b": [{"c": null}], "e": true, "meta": []}"#)).sorted() == ["$.b[0].c: string in the capture, null here", "$.d missing", "$.meta is not a dict"])
        #expect(shapeDifferences(golden: golden, ours: try Self.json(#"{"a": 1, "b": [], "d": 1, "e": "true", "meta": {}}"#), allowing: ["$.b"]) == ["$.e: boolean in the capture, string here"])
        #expect(shapeDifferences(golden: golden, ours: try Self.json(#"{"a": null, "b": [{"c": "y"}], "d": 1, "e": true, "meta": {}}"#), allowing: ["$.a"]).isEmpty)
    }
}
