import DriveAPI
import DriveModel
import Foundation
import HTTPTypes
import Testing

@Suite("Drives endpoints")
struct DrivesEndpointTests {
    @Test("create answers 201 {objects:[...]} in status creating, then the worker makes it unmounted")
    func createThenUnmounted() async throws {
        try await withDrivesd { env in
            let reply = try await env.request(
                .post, "/api/2.0/drives/", body: #"{"objects": [{"media": "disk", "name": "test_drive_1", "size": 1073741824}]}"#)
            #expect(reply.code == 201)
            #expect(reply.headers[.contentType] == "application/json; charset=utf-8")
            #expect(reply.json?["meta"] == nil)
            let drive = try #require(reply.first)
            #expect(drive["status"] == .string("creating"))
            #expect(drive["name"] == .string("test_drive_1"))
            #expect(drive["size"] == .int(1_073_741_824))
            #expect(drive["storage_type"] == .string("dssd"))
            let uuid = try #require(drive["uuid"]?.stringValue)
            #expect(reply.headers[.location] == "/api/2.0/drives/\(uuid)/")
            #expect(drive["owner"]?["uuid"] == .string(env.alice.user.uuid))
            #expect(drive["owner"]?["resource_uri"] == .string("/api/2.0/user/\(env.alice.user.uuid)/"))
            // Still creating until the worker runs.
            #expect(try await env.status(uuid) == "creating")
            #expect(try await env.tick() == [uuid])
            #expect(try await env.status(uuid) == "unmounted")
        }
    }

    @Test("create accepts the objects wrapper, a bare list and a bare object, and size as a numeric string")
    func createBodyForms() async throws {
        try await withDrivesd { env in
            let wrapped = try await env.request(
                .post, "/api/2.0/drives/", body: #"{"objects": [{"media": "disk", "name": "a", "size": "1073741824"}]}"#)
            #expect(wrapped.code == 201)
            #expect(wrapped.first?["size"] == .int(1_073_741_824))
            let list = try await env.request(
                .post, "/api/2.0/drives", body: #"[{"media": "cdrom", "name": "b", "size": 1073741824}]"#)
            #expect(list.code == 201)
            #expect(list.first?["media"] == .string("cdrom"))
            let bare = try await env.request(
                .post, "/api/2.0/drives/", body: #"{"media": "disk", "name": "c", "size": 2147483648, "storage_type": "zadara"}"#)
            #expect(bare.code == 201)
            #expect(bare.objects.count == 1)
            #expect(bare.first?["storage_type"] == .string("zadara"))
            #expect(bare.first?["runtime"]?["storage_type"] == .string("zadara"))
            #expect(try await env.get("/api/2.0/drives/").totalCount == 3)
        }
    }

    @Test("bulk create keeps the request order and is all-or-nothing")
    func bulkCreate() async throws {
        try await withDrivesd { env in
            let names = (0..<5).map { "bulk-\($0)" }
            let body = "[" + names.map { #"{"name": "\#($0)", "size": 1073741824, "media": "disk"}"# }.joined(separator: ",") + "]"
            let reply = try await env.request(.post, "/api/2.0/drives/", body: body)
            #expect(reply.code == 201)
            #expect(reply.objects.compactMap { $0["name"]?.stringValue } == names)

            let bad = #"{"objects": [{"name": "ok", "size": 1073741824, "media": "disk"}, {"name": "bad", "size": 1073741824, "media": "floppy"}]}"#
            let refused = try await env.request(.post, "/api/2.0/drives/", body: bad)
            #expect(refused.code == 400)
            #expect(refused.error.point == "media")
            #expect(refused.error.message?.hasPrefix("objects[1]: ") == true)
            #expect(try await env.get("/api/2.0/drives/?limit=0").totalCount == 5)
        }
    }

    @Test("short list has exactly owner, resource_uri, status, uuid; detail has every key")
    func shortAndDetailLists() async throws {
        try await withDrivesd { env in
            _ = try await env.createDrive(name: "one")
            let short = try await env.get("/api/2.0/drives/")
            #expect(short.code == 200)
            let keys = Set(try #require(short.first?.objectValue).keys)
            #expect(keys == ["owner", "resource_uri", "status", "uuid"])
            let meta = try #require(short.json?["meta"]?.objectValue)
            #expect(Set(meta.keys) == ["limit", "offset", "total_count"])
            #expect(meta["limit"] == .int(20))

            let detail = try await env.get("/api/2.0/drives/detail/")
            let full = Set(try #require(detail.first?.objectValue).keys)
            #expect(
                full == [
                    "affinities", "allow_multimount", "backup_scheduler", "grantees", "iops", "jobs", "licenses", "media",
                    "meta", "mounted_on", "name", "owner", "permissions", "remote_snapshots", "resource_uri", "runtime",
                    "size", "snapshots", "status", "storage_type", "tags", "uuid",
                ])
            let runtime = Set(try #require(detail.first?["runtime"]?.objectValue).keys)
            #expect(runtime == ["is_downloadable", "is_ephemeral", "is_snapshotable", "snapshots_allocated_size", "storage_type"])
        }
    }

    @Test("limit, offset, limit=0 and total_count")
    func pagination() async throws {
        try await withDrivesd { env in
            var uuids: [String] = []
            for i in 0..<25 { uuids.append(try await env.createDrive(name: "d\(i)")) }
            let first = try await env.get("/api/2.0/drives/")
            #expect(first.objects.count == 20)
            #expect(first.totalCount == 25)
            #expect(first.objects.compactMap { $0["uuid"]?.stringValue } == Array(uuids.prefix(20)))
            let all = try await env.get("/api/2.0/drives/?limit=0")
            #expect(all.objects.count == 25)
            #expect(all.json?["meta"]?["limit"] == .int(0))
            let page = try await env.get("/api/2.0/drives/detail/?limit=10&offset=20")
            #expect(page.objects.compactMap { $0["name"]?.stringValue } == ["d20", "d21", "d22", "d23", "d24"])
            #expect(page.json?["meta"]?["offset"] == .int(20))
            #expect(page.totalCount == 25)
            let bad = try await env.get("/api/2.0/drives/?limit=abc")
            #expect(bad.code == 400)
            #expect(bad.error.point == "limit")
            #expect(try await env.get("/api/2.0/drives/?offset=-1").error.point == "offset")
        }
    }

    @Test("fields= keeps exactly the keys asked for, on lists and on one drive")
    func fieldsProjection() async throws {
        try await withDrivesd { env in
            let uuid = try await env.createDrive()
            let list = try await env.get("/api/2.0/drives/?fields=uuid,status")
            #expect(Set(try #require(list.first?.objectValue).keys) == ["uuid", "status"])
            let one = try await env.get("/api/2.0/drives/\(uuid)/?fields=name,size")
            #expect(Set(try #require(one.json?.objectValue).keys) == ["name", "size"])
        }
    }

    @Test("filters: name (OR with commas and escapes), name__contains case-insensitively, uuid; separate parameters AND")
    func filters() async throws {
        try await withDrivesd { env in
            let a = try await env.createDrive(name: "Alpha")
            let b = try await env.createDrive(name: "beta")
            _ = try await env.createDrive(name: #"gamma,long\\"#)  // JSON text for gamma,long\
            _ = try await env.createDrive(name: "50%_off")
            func names(_ query: String) async throws -> [String] {
                try await env.get("/api/2.0/drives/detail/?limit=0&\(query)").objects.compactMap { $0["name"]?.stringValue }
            }
            #expect(try await names("name=Alpha") == ["Alpha"])
            #expect(try await names("name=alpha").isEmpty)
            #expect(try await names("name=Alpha,beta") == ["Alpha", "beta"])
            #expect(try await names(#"name=gamma\,long\\,beta"#) == ["beta", "gamma,long\\"])
            #expect(try await names("name__contains=ALP") == ["Alpha"])
            #expect(try await names("name__contains=a") == ["Alpha", "beta", "gamma,long\\"])
            #expect(try await names("name__contains=%25_") == ["50%_off"])
            #expect(try await names("name__contains=a&name=beta") == ["beta"])
            #expect(try await names("uuid=\(a),\(b)") == ["Alpha", "beta"])
            #expect(try await names("name=Alpha&name=beta").isEmpty)
            #expect(try await names("unknown_param=1").count == 4)
            #expect(try await names("tag=\(UUID().uuidString)").isEmpty)
        }
    }

    @Test("order_by on name and uuid, descending with -, unknown field 400")
    func ordering() async throws {
        try await withDrivesd { env in
            var created: [String] = []
            for name in ["b", "c", "a"] { created.append(try await env.createDrive(name: name)) }
            func names(_ query: String) async throws -> [String] {
                try await env.get("/api/2.0/drives/detail/?\(query)").objects.compactMap { $0["name"]?.stringValue }
            }
            #expect(try await names("") == ["b", "c", "a"])
            #expect(try await names("order_by=name") == ["a", "b", "c"])
            #expect(try await names("order_by=-name") == ["c", "b", "a"])
            func uuids(_ query: String) async throws -> [String] {
                try await env.get("/api/2.0/drives/?\(query)").objects.compactMap { $0["uuid"]?.stringValue }
            }
            #expect(try await uuids("order_by=uuid") == created.sorted())
            #expect(try await uuids("order_by=-uuid") == created.sorted().reversed())
            let bad = try await env.get("/api/2.0/drives/?order_by=size")
            #expect(bad.code == 400)
            #expect(bad.error.type == "validation")
            #expect(bad.error.point == "order_by")
        }
    }

    @Test("GET one drive; unknown uuid is 404 notexist with the reference's message")
    func getOne() async throws {
        try await withDrivesd { env in
            let uuid = try await env.createDrive(name: "x")
            let reply = try await env.get("/api/2.0/drives/\(uuid)/")
            #expect(reply.code == 200)
            #expect(reply.json?["uuid"] == .string(uuid))
            #expect(reply.json?["resource_uri"] == .string("/api/2.0/drives/\(uuid)/"))
            let missing = UUID().uuidString.lowercased()
            let notFound = try await env.get("/api/2.0/drives/\(missing)/")
            #expect(notFound.code == 404)
            #expect(notFound.error.type == "notexist")
            #expect(notFound.error.message == "Object with uuid \(missing) does not exist")
            #expect(notFound.json?.arrayValue?.first?["error_point"] == .null)
        }
    }

    @Test("paths answer the same with and without the trailing slash; libcloud's limit=0 on one drive is ignored")
    func trailingSlash() async throws {
        try await withDrivesd { env in
            let uuid = try await env.createDrive()
            #expect(try await env.get("/api/2.0/drives/\(uuid)").code == 200)
            #expect(try await env.get("/api/2.0/drives/\(uuid)/?limit=0").code == 200)
            #expect(try await env.get("/api/2.0/drives").code == 200)
            #expect(try await env.get("/api/2.0/drives/detail").code == 200)
            #expect(try await env.get("/api/2.0/capabilities/?limit=0").code == 200)
        }
    }

    @Test("every response carries an X-Request-ID")
    func requestID() async throws {
        try await withDrivesd { env in
            let ok = try await env.get("/api/2.0/drives/")
            let id = try #require(ok.headers[HTTPField.Name("X-Request-ID")!])
            #expect(UUID(uuidString: id) != nil)
            let failed = try await env.get("/api/2.0/drives/nope/")
            #expect(failed.headers[HTTPField.Name("X-Request-ID")!] != nil)
            let unauth = try await env.request(.get, "/api/2.0/drives/", authenticated: false)
            #expect(unauth.headers[HTTPField.Name("X-Request-ID")!] != nil)
        }
    }
}
