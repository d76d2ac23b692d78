import DriveAPI
import DriveModel
import Foundation
import HTTPTypes
import Testing

/// `/locations/` (the Go SDK's `Location`): this daemon, at the address the client used.
@Suite struct LocationsTests {
    @Test("GET /locations/ needs no credentials and names the listener the client reached, with the Go SDK's keys")
    func location() async throws {
        try await withDrivesd { env in
            // The router test framework sends the authority `localhost` (a real Host is checked in
            // ConnectionProcessTests).
            let reply = try await env.request(.get, "/api/2.0/locations/", authenticated: false)
            #expect(reply.code == 200)
            #expect(reply.totalCount == 1)
            let location = try #require(reply.first?.objectValue)
            #expect(Set(location.keys) == [
                "alternative_frontend_url", "api_endpoint", "country_code", "default_frontend_signup_url", "default_frontend_url",
                "display_name", "documentation_url", "id", "upload_url", "websocket_url",
            ])
            #expect(location["api_endpoint"] == .string("http://localhost/api/2.0/"))
            #expect(location["upload_url"] == .string("http://localhost/api/2.0/"))
            #expect(location["websocket_url"] == .string("ws://localhost/websocket"))
            #expect(location["id"] == .string("LOCAL"))
            // With credentials too; other methods are 405.
            #expect(try await env.get("/api/2.0/locations/").code == 200)
            #expect(try await env.request(.post, "/api/2.0/locations/", body: "{}").code == 405)
        }
    }

    @Test("behind TLS the URLs are https and wss")
    func secure() async throws {
        var settings = APISettings(durations: .init(timeScale: 0))
        settings.scheme = "https"
        try await withDrivesd(settings: settings) { env in
            let reply = try await env.request(.get, "/api/2.0/locations/", authenticated: false)
            #expect(reply.first?["api_endpoint"] == .string("https://localhost/api/2.0/"))
            #expect(reply.first?["websocket_url"] == .string("wss://localhost/websocket"))
        }
    }
}

/// Every served resource answers its `schema/`: the real API's document where one was captured,
/// one in the same style where not.
@Suite struct SchemaTests {
    @Test("drives, libdrives, jobs, licenses, tags, snapshots, servers, capabilities and profile answer schema/")
    func everySchema() async throws {
        try await withDrivesd { env in
            for resource in ["drives", "libdrives", "jobs", "licenses", "tags", "snapshots", "servers", "capabilities", "profile"] {
                let reply = try await env.get("/api/2.0/\(resource)/schema/")
                #expect(reply.code == 200, "\(resource)")
                #expect(reply.json?.objectValue != nil, "\(resource): \(reply.text.prefix(80))")
            }
            // Captured: served as the real API sent it.
            let captured = try fixture("response_capabilities_schema")
            #expect(try await env.get("/api/2.0/capabilities/schema/").json == captured.body)
            // Written in style: every key a server has is described, nothing else.
            let server = try await env.request(
                .post, "/api/2.0/servers/", body: #"{"name": "s", "cpu": 1000, "mem": 536870912, "vnc_password": "pw"}"#)
            let keys = Set(try #require(server.first?.objectValue).keys)
            let schema = try await env.get("/api/2.0/servers/schema/").json
            let described = Set(schema?["fields"]?.objectValue?.keys.map { $0 } ?? [])
            #expect(described == keys, "described but absent: \(described.subtracting(keys)); present but undescribed: \(keys.subtracting(described))")
            #expect(schema?["allowed_list_http_methods"] == .array([.string("get"), .string("post")]))
            // A server named "schema" cannot shadow the route, nor the route a server.
            let uuid = try #require(server.first?["uuid"]?.stringValue)
            #expect(try await env.get("/api/2.0/servers/\(uuid)/").json?["name"] == .string("s"))
        }
    }
}

/// What replaying the captured pairs found (issue 19): resize answers as the real API's.
@Suite struct ReplayFindingsTests {
    func mountedOnRunningServer(_ env: TestEnv, storageType: String) async throws -> (drive: String, server: String) {
        let drive = try await env.createDrive(extra: #", "storage_type": "\#(storageType)""#)
        try await env.tick()
        let server = try await env.request(
            .post, "/api/2.0/servers/",
            body: #"{"name": "s", "cpu": 1000, "mem": 536870912, "vnc_password": "pw", "drives": [{"boot_order": 1, "dev_channel": "0:0", "device": "virtio", "drive": "\#(drive)"}]}"#)
        let uuid = try #require(server.first?["uuid"]?.stringValue)
        #expect(try await env.request(.post, "/api/2.0/servers/\(uuid)/action/?do=start").code == 202)
        try await env.tick()
        #expect(try await env.get("/api/2.0/servers/\(uuid)/").json?["status"] == .string("running"))
        return (drive, uuid)
    }

    @Test("an ephemeral drive on a running server resizes (202, then the new size); the same size keeps its status")
    func ephemeralResize() async throws {
        try await withDrivesd { env in
            let (drive, _) = try await mountedOnRunningServer(env, storageType: "local_nvme")
            // The captured request: the drive's own size, mounted on a running server.
            let same = try await env.request(
                .post, "/api/2.0/drives/\(drive)/action/?do=resize", body: #"{"name": "ZFS Local Drive", "size": 1073741824, "media": "disk"}"#)
            #expect(same.code == 202, "\(same.text)")
            #expect(same.first?["status"] == .string("mounted"))
            #expect(same.first?["size"] == .int(1_073_741_824))
            #expect(try await env.status(drive) == "mounted")
            // Bigger: resizing, then mounted at the new size.
            let bigger = try await env.request(
                .post, "/api/2.0/drives/\(drive)/action/?do=resize", body: #"{"name": "ZFS Local Drive", "size": 2147483648, "media": "disk"}"#)
            #expect(bigger.code == 202)
            #expect(bigger.first?["status"] == .string("resizing"))
            try await env.tick()
            let after = try await env.get("/api/2.0/drives/\(drive)/").json
            #expect(after?["status"] == .string("mounted"))
            #expect(after?["size"] == .int(2_147_483_648))
            // A PUT with a bigger size is not ignored either.
            let put = try await env.request(.put, "/api/2.0/drives/\(drive)/", body: #"{"name": "ZFS Local Drive", "size": 3221225472, "media": "disk"}"#)
            #expect(put.code == 200)
            try await env.tick()
            #expect(try await env.get("/api/2.0/drives/\(drive)/").json?["size"] == .int(3_221_225_472))
        }
    }

    @Test("a network drive on a running server: resize refused (403), a bigger size on PUT ignored; the same size when idle keeps the status")
    func networkDrive() async throws {
        try await withDrivesd { env in
            let (drive, _) = try await mountedOnRunningServer(env, storageType: "dssd")
            let refused = try await env.request(
                .post, "/api/2.0/drives/\(drive)/action/?do=resize", body: #"{"name": "d", "size": 2147483648, "media": "disk"}"#)
            #expect(refused.code == 403)
            _ = try await env.request(.put, "/api/2.0/drives/\(drive)/", body: #"{"name": "d", "size": 2147483648, "media": "disk"}"#)
            try await env.tick()
            #expect(try await env.get("/api/2.0/drives/\(drive)/").json?["size"] == .int(1_073_741_824))

            let idle = try await env.createDrive(name: "idle")
            try await env.tick()
            let same = try await env.request(
                .post, "/api/2.0/drives/\(idle)/action/?do=resize", body: #"{"name": "idle", "size": 1073741824, "media": "disk"}"#)
            #expect(same.code == 202)
            #expect(same.first?["status"] == .string("unmounted"))
            #expect(try await env.status(idle) == "unmounted")
        }
    }
}

@Suite struct CapabilityTypesTests {
    @Test("capabilities' sizes have the real API's JSON types: zadara's minimum is a float, the others integers")
    func jsonTypes() async throws {
        try await withDrivesd { env in
            let reply = try await env.get("/api/2.0/capabilities/")
            let zadara = try #require(reply.text.range(of: #""zadara": {"#))
            let section = String(reply.text[zadara.upperBound...].prefix(400))
            #expect(section.contains(#""min_size": 1073741824.0"#), "\(section)")
            #expect(section.contains(#""min": 1073741824.0"#), "\(section)")
            #expect(section.contains(#""max_size": 14180205493621,"#), "\(section)")
            let dssd = try #require(reply.text.range(of: #""dssd": {"#))
            #expect(String(reply.text[dssd.upperBound...].prefix(400)).contains(#""min_size": 536870912,"#))
        }
    }
}

@Suite struct ServerDriveOrderTests {
    @Test("a server's drives come back by device, then controller and unit, as the captures show, whatever the request's order")
    func order() async throws {
        try await withDrivesd { env in
            let disk = try await env.createDrive(name: "disk")
            let second = try await env.createDrive(name: "second")
            let cdrom = try await env.createDrive(name: "cd", media: "cdrom")
            let tenth = try await env.createDrive(name: "tenth")
            try await env.tick()
            func mount(_ drive: String, _ channel: String, _ device: String, _ boot: String) -> String {
                #"{"boot_order": \#(boot), "dev_channel": "\#(channel)", "device": "\#(device)", "drive": "\#(drive)"}"#
            }
            // The captured request: the virtio disk first, the ide cdrom second.
            let drives = [mount(tenth, "1:0", "virtio", "3"), mount(disk, "0:0", "virtio", "1"), mount(second, "0:2", "virtio", "2"), mount(cdrom, "0:0", "ide", "null")]
            let made = try await env.request(
                .post, "/api/2.0/servers/",
                body: #"{"name": "s", "cpu": 1000, "mem": 536870912, "vnc_password": "pw", "drives": [\#(drives.joined(separator: ", "))]}"#)
            #expect(made.code == 201, "\(made.text)")
            func order(_ json: JSONValue?) -> [String] {
                (json?["drives"]?.arrayValue ?? []).compactMap { $0["drive"]?["uuid"]?.stringValue }
            }
            #expect(order(made.first) == [cdrom, disk, second, tenth])
            let uuid = try #require(made.first?["uuid"]?.stringValue)
            #expect(order(try await env.get("/api/2.0/servers/\(uuid)/").json) == [cdrom, disk, second, tenth])
            #expect(order(try await env.get("/api/2.0/servers/detail/").first) == [cdrom, disk, second, tenth])
        }
    }
}
