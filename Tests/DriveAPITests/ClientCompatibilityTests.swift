import DriveAPI
import DriveModel
import Foundation
import Testing

/// Behaviours real clients depend on, found by the interop suite (interop/).
@Suite("Client compatibility")
struct ClientCompatibilityTests {
    @Test("pycloudsigma's /drives/?fields=name,uuid: fields pick from the whole drive on the short list")
    func fieldsOnShortList() async throws {
        try await withDrivesd { env in
            _ = try await env.createDrive(name: "named")
            let reply = try await env.get("/api/2.0/drives/?limit=0&fields=name%2Cuuid")
            #expect(Set(try #require(reply.first?.objectValue).keys) == ["name", "uuid"])
            #expect(reply.first?["name"] == .string("named"))
            _ = try await env.createServer(name: "s1")
            #expect(try await env.get("/api/2.0/servers/?fields=name,cpu").first?["cpu"] == .int(1000))
        }
    }

    @Test("a + in the query string is a space, %2B a plus")
    func plusIsSpace() async throws {
        try await withDrivesd { env in
            _ = try await env.createDrive(name: "sp ace")
            _ = try await env.createDrive(name: "a+b")
            #expect(try await env.get("/api/2.0/drives/detail/?name=sp+ace").totalCount == 1)
            #expect(try await env.get("/api/2.0/drives/detail/?name=sp%20ace").totalCount == 1)
            #expect(try await env.get("/api/2.0/drives/detail/?name=a%2Bb").totalCount == 1)
            #expect(try await env.get("/api/2.0/drives/detail/?name=a+b").totalCount == 0)
        }
    }

    @Test("pycloudsigma's Licenses().list_detail(): /licenses/detail/")
    func licensesDetail() async throws {
        try await withDrivesd { env in
            let reply = try await env.get("/api/2.0/licenses/detail/?limit=0")
            #expect(reply.code == 200)
            #expect(reply.totalCount == 4)
        }
    }

    @Test("libcloud's DHCP nic comes back with every key the real API fills in")
    func nicShape() async throws {
        try await withDrivesd { env in
            let reply = try await env.request(
                .post, "/api/2.0/servers/",
                body: #"{"name": "n", "cpu": 1000, "mem": 536870912, "vnc_password": "pw", "nics": [{"boot_order": null, "ip_v4_conf": {"conf": "dhcp"}, "ip_v6_conf": null}]}"#)
            #expect(reply.code == 201)
            let nic = try #require(reply.first?["nics"]?.arrayValue?.first)
            #expect(nic["ip_v4_conf"] == .object(["conf": .string("dhcp"), "ip": .null]))
            #expect(nic["model"] == .string("virtio"))
            #expect(nic["vlan"] == .null)
            #expect(nic["runtime"] == .null)
            let mac = try #require(nic["mac"]?.stringValue)
            #expect(mac.split(separator: ":").count == 6)
            // The MAC is kept: it is stored, not made up on every read.
            let uuid = try #require(reply.first?["uuid"]?.stringValue)
            #expect(try await env.get("/api/2.0/servers/\(uuid)/").json?["nics"]?.arrayValue?.first?["mac"] == .string(mac))
        }
    }

    @Test("libcloud's ex_create_tag: resources beside objects apply to the new tag")
    func topLevelTagResources() async throws {
        try await withDrivesd { env in
            let drive = try await env.createDrive()
            let reply = try await env.request(
                .post, "/api/2.0/tags/", body: #"{"objects": [{"name": "t"}], "resources": ["\#(drive)"]}"#)
            #expect(reply.code == 201)
            #expect(reply.first?["resources"]?.arrayValue?.first?["uuid"] == .string(drive))
        }
    }
}

@Suite("Protocol details")
struct ProtocolDetailTests {
    @Test("HEAD answers like GET without a body; TRACE and other unserved methods are 405")
    func methods() async throws {
        try await withDrivesd { env in
            let uuid = try await env.createDrive()
            let head = try await env.request(.head, "/api/2.0/drives/\(uuid)/")
            #expect(head.code == 200)
            #expect(head.text.isEmpty)
            #expect(try await env.request(.trace, "/api/2.0/drives/\(uuid)/").code == 405)
            #expect(try await env.request(.head, "/api/2.0/drives/\(uuid)/action/").code == 405)
        }
    }

    @Test("library clone needs do=clone; recurse=none is refused; tag create sends Location")
    func smallRules() async throws {
        try await withDrivesd { env in
            let lib = "6d53b92c-42dc-472b-a7b6-7021f45f377a"
            #expect(try await env.request(.post, "/api/2.0/libdrives/\(lib)/action/").error.point == "do")
            #expect(try await env.request(.post, "/api/2.0/libdrives/\(lib)/action/?do=explode").code == 400)
            let server = try await env.createServer()
            #expect(try await env.request(.delete, "/api/2.0/servers/\(server)/?recurse=none").error.point == "recurse")
            let tag = try await env.request(.post, "/api/2.0/tags/", body: #"{"name": "t"}"#)
            let uuid = try #require(tag.first?["uuid"]?.stringValue)
            #expect(tag.headers[.location] == "/api/2.0/tags/\(uuid)/")
        }
    }

    @Test("a / followed by a combining character still separates a URI reference")
    func scalarSplit() {
        #expect(APIPath.relatedID(.string("/api/2.0/drives/a\u{1F3FB}/"), collection: "drives") == "a\u{1F3FB}")
        #expect(APIPath.relatedID(.string("/api/2.0/drives/\u{0301}x/"), collection: "drives") == "\u{0301}x")
        #expect(APIPath.relatedID(.string("/api/2.0/tags/x/"), collection: "drives") == nil)
    }
}
