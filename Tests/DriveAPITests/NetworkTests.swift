import DriveAPI
import DriveModel
import DriveStorage
import Foundation
import HTTPTypes
import Testing

/// `/ips/` and `/vlans/`: seeded per account, read, edited (`meta`, `tags`), tagged, and named by
/// servers' NICs (issue 19; the shapes of cloudsigma-docs' `ip_*` and `vlan_*` captures).
@Suite struct NetworkTests {
    static let ipKeys: Set<String> = [
        "gateway", "grantees", "meta", "nameservers", "netmask", "owner", "permissions", "resource_uri", "server",
        "subscription", "tags", "uuid",
    ]
    static let vlanKeys: Set<String> = [
        "grantees", "meta", "owner", "permissions", "resource_uri", "servers", "subscription", "tags", "uuid",
    ]

    static func keys(_ value: JSONValue?) -> Set<String> { Set(value?.objectValue?.keys.map { $0 } ?? []) }

    @Test("every account holds one IP and one VLAN; lists answer the captured short and full shapes; others' are 404")
    func seededAndShaped() async throws {
        try await withDrivesd { env in
            let ips = try await env.get("/api/2.0/ips/")
            #expect(ips.code == 200)
            #expect(ips.totalCount == 1)
            let ip = try #require(ips.first)
            #expect(Self.keys(ip) == ["owner", "resource_uri", "server", "uuid"])
            let address = try #require(ip["uuid"]?.stringValue)
            #expect(ip["resource_uri"] == .string("/api/2.0/ips/\(address)/"))
            #expect(ip["owner"]?["uuid"] == .string(env.alice.user.uuid))
            #expect(ip["server"] == .null)
            #expect(address.split(separator: ".").count == 4)

            let detail = try #require(try await env.get("/api/2.0/ips/detail/").first)
            #expect(Self.keys(detail) == Self.ipKeys)
            #expect(detail["netmask"] == .int(24))
            let gateway = try #require(detail["gateway"]?.stringValue)
            #expect(gateway.split(separator: ".").dropLast() == address.split(separator: ".").dropLast())
            #expect(detail["nameservers"]?.arrayValue?.isEmpty == false)
            #expect(detail["subscription"]?["resource_uri"]?.stringValue?.hasPrefix("/api/2.0/subscriptions/") == true)
            #expect(try await env.get("/api/2.0/ips/\(address)/").json == detail)

            let vlans = try await env.get("/api/2.0/vlans/")
            #expect(vlans.totalCount == 1)
            let vlan = try #require(vlans.first)
            #expect(Self.keys(vlan) == ["owner", "resource_uri", "uuid"])
            let vlanUUID = try #require(vlan["uuid"]?.stringValue)
            let vlanDetail = try await env.get("/api/2.0/vlans/\(vlanUUID)/")
            #expect(vlanDetail.code == 200)
            #expect(Self.keys(vlanDetail.json) == Self.vlanKeys)
            #expect(vlanDetail.json?["servers"] == .array([]))
            #expect(vlanDetail.json?["subscription"] != detail["subscription"], "one id space for subscriptions")

            // Bob has his own, with another address; he cannot read Alice's.
            let bobs = try #require(try await env.get("/api/2.0/ips/", as: env.bob).first?["uuid"]?.stringValue)
            #expect(bobs != address)
            let foreign = try await env.get("/api/2.0/ips/\(address)/", as: env.bob)
            #expect(foreign.code == 404)
            #expect(foreign.error.type == "notexist")
            #expect(try await env.get("/api/2.0/vlans/\(vlanUUID)/", as: env.bob).code == 404)
            #expect(try await env.get("/api/2.0/ips/?uuid=\(address)", as: env.bob).totalCount == 0)

            // Filters and fields.
            #expect(try await env.get("/api/2.0/ips/?uuid=\(address)").totalCount == 1)
            #expect(try await env.get("/api/2.0/ips/?uuid=10.0.0.1").totalCount == 0)
            let projected = try await env.get("/api/2.0/ips/?fields=uuid,netmask")
            #expect(projected.first == .object(["uuid": .string(address), "netmask": .int(24)]))

            // Schemas: the captured documents; lists take GET only, objects GET and PUT.
            let schema = try await env.get("/api/2.0/ips/schema/")
            #expect(schema.code == 200)
            #expect(Set(schema.json?["fields"]?.objectValue?.keys.map { $0 } ?? []) == Self.ipKeys)
            #expect(schema.json?["allowed_detail_http_methods"] == .array([.string("get"), .string("put")]))
            let vlanSchema = try await env.get("/api/2.0/vlans/schema/")
            #expect(Set(vlanSchema.json?["fields"]?.objectValue?.keys.map { $0 } ?? []) == Self.vlanKeys)
            for (method, path) in [
                (HTTPRequest.Method.post, "/api/2.0/ips/"), (.delete, "/api/2.0/ips/\(address)/"), (.post, "/api/2.0/vlans/"),
                (.delete, "/api/2.0/vlans/\(vlanUUID)/"),
            ] {
                let reply = try await env.request(method, path, body: method == .post ? "{}" : nil)
                #expect(reply.code == 405, "\(method) \(path)")
                #expect(reply.error.type == "permission")
            }
        }
    }

    @Test("PUT replaces meta and tags, ignores the read-only fields update(get()) sends back, and refuses bad input whole")
    func edit() async throws {
        try await withDrivesd { env in
            let address = try #require(try await env.get("/api/2.0/ips/").first?["uuid"]?.stringValue)
            let tag = try #require(
                try await env.request(.post, "/api/2.0/tags/", body: #"{"name": "edge"}"#).first?["uuid"]?.stringValue)
            var object = try #require(try await env.get("/api/2.0/ips/\(address)/").json?.objectValue)
            object["meta"] = .object(["name": .string("my ip"), "custom_field": .string("some custom data")])
            object["tags"] = .array([.string(tag)])
            let put = try await env.request(.put, "/api/2.0/ips/\(address)/", body: JSONValue.object(object).jsonString)
            #expect(put.code == 200, "\(put.text)")
            #expect(put.json?["meta"]?["name"] == .string("my ip"))
            #expect(put.json?["tags"] == .array([APIPath.reference("tags", tag)]))
            #expect(put.json?["uuid"] == .string(address))
            let tagged = try await env.get("/api/2.0/tags/\(tag)/")
            #expect(
                tagged.json?["resources"]?.arrayValue?.map { $0["res_type"] } == [.string("ips")],
                "the tag's side of the one relation")
            #expect(try await env.get("/api/2.0/ips/?name=my%20ip").totalCount == 1)
            #expect(try await env.get("/api/2.0/ips/?name__contains=MY").totalCount == 1)
            #expect(try await env.get("/api/2.0/ips/?name=other").totalCount == 0)
            #expect(try await env.get("/api/2.0/ips/?tag=\(tag)").totalCount == 1)

            // A bad meta or an unknown tag changes nothing.
            let bad = try await env.request(.put, "/api/2.0/ips/\(address)/", body: #"{"meta": {"a": 1}, "tags": []}"#)
            #expect(bad.code == 400)
            #expect(bad.error.type == "validation")
            let unknown = try await env.request(
                .put, "/api/2.0/ips/\(address)/", body: #"{"meta": {}, "tags": ["00000000-0000-0000-0000-000000000000"]}"#)
            #expect(unknown.code == 404)
            let after = try await env.get("/api/2.0/ips/\(address)/")
            #expect(after.json?["meta"]?["name"] == .string("my ip"))
            #expect(after.json?["tags"]?.arrayValue?.count == 1)
            #expect(try await env.request(.put, "/api/2.0/ips/\(address)/", body: "[]").code == 400)
            #expect(try await env.request(.put, "/api/2.0/ips/\(address)/", body: #"{"meta": {}}"#, as: env.bob).code == 404)

            // Emptying meta as pycloudsigma's test does; the VLAN the same way.
            let cleared = try await env.request(.put, "/api/2.0/ips/\(address)/", body: #"{"meta": {}}"#)
            #expect(cleared.json?["meta"] == .object([:]))
            #expect(cleared.json?["tags"]?.arrayValue?.count == 1, "tags absent: kept")
            let vlan = try #require(try await env.get("/api/2.0/vlans/").first?["uuid"]?.stringValue)
            let named = try await env.request(.put, "/api/2.0/vlans/\(vlan)/", body: #"{"meta": {"name": "my vlan"}}"#)
            #expect(named.code == 200)
            #expect(named.json?["meta"] == .object(["name": .string("my vlan")]))

            // Hostile bodies: 400 validation, nothing changed.
            let kept = try await env.get("/api/2.0/vlans/\(vlan)/").json
            let deep = String(repeating: "[", count: 600) + String(repeating: "]", count: 600)
            for body in [
                #"{"meta": "x"}"#, #"{"meta": {"k": 1}}"#, #"{"meta": {"": "v"}}"#, #"{"tags": "x"}"#, #"{"tags": [1.5]}"#, "null", #""s""#,
                deep, #"{"meta": {"\#(String(repeating: "k", count: 5000))": "v"}}"#, "{",
            ] {
                let reply = try await env.request(.put, "/api/2.0/vlans/\(vlan)/", body: body)
                #expect(reply.code == 400, "\(body.prefix(40)): \(reply.code) \(reply.text.prefix(100))")
                #expect(reply.error.type == "validation", "\(body.prefix(40))")
            }
            #expect(try await env.get("/api/2.0/vlans/\(vlan)/").json == kept)

            // Deleting the tag takes it off the IP.
            #expect(try await env.request(.delete, "/api/2.0/tags/\(tag)/").code == 204)
            #expect(try await env.get("/api/2.0/ips/\(address)/").json?["tags"] == .array([]))
        }
    }

    @Test("one tag holds a server, a drive, an IP and a VLAN; each typed list answers its own")
    func tagOfEveryKind() async throws {
        try await withDrivesd { env in
            let server = try #require(
                try await env.request(
                    .post, "/api/2.0/servers/", body: #"{"name": "s", "cpu": 1000, "mem": 536870912, "vnc_password": "p"}"#
                ).first?["uuid"]?.stringValue)
            let drive = try await env.createDrive(name: "d")
            let ip = try #require(try await env.get("/api/2.0/ips/").first?["uuid"]?.stringValue)
            let vlan = try #require(try await env.get("/api/2.0/vlans/").first?["uuid"]?.stringValue)
            let created = try await env.request(
                .post, "/api/2.0/tags/",
                body: #"{"objects": [{"name": "all", "resources": ["\#(server)", "\#(drive)", "\#(ip)", "/api/2.0/vlans/\#(vlan)/"]}]}"#)
            #expect(created.code == 201, "\(created.text)")
            let tag = try #require(created.first?["uuid"]?.stringValue)
            let resources = created.first?["resources"]?.arrayValue ?? []
            #expect(resources.map { $0["res_type"]?.stringValue } == ["servers", "drives", "ips", "vlans"])
            #expect(resources[2]["resource_uri"] == .string("/api/2.0/ips/\(ip)/"))
            for (type, id) in [("servers", server), ("drives", drive), ("ips", ip), ("vlans", vlan)] {
                let listed = try await env.get("/api/2.0/tags/\(tag)/\(type)/")
                #expect(listed.code == 200, "\(type)")
                #expect(listed.objects.map { $0["uuid"] } == [.string(id)], "\(type)")
                let detail = try await env.get("/api/2.0/tags/\(tag)/\(type)/detail/")
                #expect(detail.first?["tags"] == .array([APIPath.reference("tags", tag)]), "\(type) detail")
            }
            // Another account's IP cannot be tagged.
            let bobsIP = try #require(try await env.get("/api/2.0/ips/", as: env.bob).first?["uuid"]?.stringValue)
            let foreign = try await env.request(.put, "/api/2.0/tags/\(tag)/", body: #"{"name": "all", "resources": ["\#(bobsIP)"]}"#)
            #expect(foreign.code == 404)
            #expect(try await env.get("/api/2.0/tags/\(tag)/").json?["resources"]?.arrayValue?.count == 4, "nothing changed")
            // PUT replaces the list.
            let replaced = try await env.request(.put, "/api/2.0/tags/\(tag)/", body: #"{"name": "all", "resources": ["\#(vlan)"]}"#)
            #expect(replaced.json?["resources"]?.arrayValue?.map { $0["res_type"] } == [.string("vlans")])
            #expect(try await env.get("/api/2.0/ips/\(ip)/").json?["tags"] == .array([]))
        }
    }

    @Test("NICs name the account's IPs and VLANs as references; an IP is on one server; the lists show who uses them")
    func nics() async throws {
        try await withDrivesd { env in
            let ip = try #require(try await env.get("/api/2.0/ips/").first?["uuid"]?.stringValue)
            let vlan = try #require(try await env.get("/api/2.0/vlans/").first?["uuid"]?.stringValue)
            func server(_ name: String, nics: String, as account: Account? = nil) async throws -> Reply {
                try await env.request(
                    .post, "/api/2.0/servers/",
                    body: #"{"name": "\#(name)", "cpu": 1000, "mem": 536870912, "vnc_password": "p", "nics": \#(nics)}"#, as: account)
            }
            let first = try await server(
                "web", nics: #"[{"ip_v4_conf": {"conf": "static", "ip": "\#(ip)"}, "model": "virtio"}, {"vlan": {"uuid": "\#(vlan)"}}]"#)
            #expect(first.code == 201, "\(first.text)")
            let web = try #require(first.first?["uuid"]?.stringValue)
            let nics = first.first?["nics"]?.arrayValue ?? []
            #expect(nics.count == 2)
            #expect(nics.first?["ip_v4_conf"]?["ip"] == APIPath.reference("ips", ip))
            #expect(nics.last?["vlan"] == APIPath.reference("vlans", vlan))
            #expect(nics.last?["ip_v4_conf"] == .null)
            #expect(try await env.get("/api/2.0/ips/").first?["server"] == APIPath.reference("servers", web))
            #expect(try await env.get("/api/2.0/vlans/\(vlan)/").json?["servers"] == .array([APIPath.reference("servers", web)]))

            // The same IP on a second server: refused, nothing created. A VLAN takes many.
            let before = try await env.get("/api/2.0/servers/").totalCount
            let taken = try await server("db", nics: #"[{"ip_v4_conf": {"conf": "static", "ip": "/api/2.0/ips/\#(ip)/"}}]"#)
            #expect(taken.code == 400)
            #expect(taken.error.type == "validation")
            #expect(taken.error.message?.contains(web) == true, "\(taken.text)")
            #expect(try await env.get("/api/2.0/servers/").totalCount == before)
            let second = try await server("db", nics: #"[{"ip_v4_conf": {"conf": "dhcp"}, "vlan": "\#(vlan)"}]"#)
            #expect(second.code == 201)
            let db = try #require(second.first?["uuid"]?.stringValue)
            #expect(second.first?["nics"]?.arrayValue?.first?["ip_v4_conf"] == .object(["conf": .string("dhcp"), "ip": .null]))
            #expect(try await env.get("/api/2.0/vlans/\(vlan)/").json?["servers"]?.arrayValue?.count == 2)
            // The server holding the IP may keep it when edited.
            let edit = try await env.request(
                .put, "/api/2.0/servers/\(web)/",
                body: #"{"name": "web2", "cpu": 1000, "mem": 536870912, "vnc_password": "p", "nics": [{"ip_v4_conf": {"conf": "static", "ip": "\#(ip)"}}]}"#)
            #expect(edit.code == 200, "\(edit.text)")
            #expect(try await env.get("/api/2.0/vlans/\(vlan)/").json?["servers"] == .array([APIPath.reference("servers", db)]))

            // Another account's IP or VLAN, or an unknown one: 404; a malformed one: 400.
            let foreignIP = try await server("x", nics: #"[{"ip_v4_conf": {"conf": "static", "ip": "\#(ip)"}}]"#, as: env.bob)
            #expect(foreignIP.code == 404)
            #expect(foreignIP.error.type == "notexist")
            #expect(try await server("x", nics: #"[{"vlan": "\#(vlan)"}]"#, as: env.bob).code == 404)
            #expect(try await server("x", nics: #"[{"vlan": "00000000-0000-0000-0000-000000000000"}]"#).code == 404)
            #expect(try await server("x", nics: #"[{"vlan": 1.5}]"#).code == 400)
            #expect(try await env.get("/api/2.0/servers/", as: env.bob).totalCount == 0)

            // Deleting the server frees the IP.
            #expect(try await env.request(.delete, "/api/2.0/servers/\(web)/").code == 204)
            #expect(try await env.get("/api/2.0/ips/\(ip)/").json?["server"] == .null)
        }
    }

    @Test("the allotment tops every account up, never takes away, and applies to accounts made later")
    func allotment() async throws {
        try await withDrivesd { env in
            try await env.api.stores.networks.allot(ips: 3, vlans: 2)
            for account in [env.alice, env.bob] {
                #expect(try await env.get("/api/2.0/ips/", as: account).totalCount == 3)
                #expect(try await env.get("/api/2.0/vlans/", as: account).totalCount == 2)
            }
            let addresses = Set(
                (try await env.get("/api/2.0/ips/").objects + (try await env.get("/api/2.0/ips/", as: env.bob).objects))
                    .compactMap { $0["uuid"]?.stringValue })
            #expect(addresses.count == 6, "addresses never repeat")
            try await env.api.stores.networks.allot(ips: 1, vlans: 0)
            #expect(try await env.get("/api/2.0/ips/").totalCount == 3)
            #expect(try await env.get("/api/2.0/vlans/").totalCount == 2)
            let carol = try await env.request(
                .post, "/_drivesd/accounts", body: #"{"email": "carol@example.com", "password": "carol-secret"}"#,
                authenticated: false, headers: [.authorization: "Basic " + Data("admin:admin".utf8).base64EncodedString()])
            #expect(carol.code == 201, "\(carol.text)")
            let auth = "Basic " + Data("carol@example.com:carol-secret".utf8).base64EncodedString()
            let carols = try await env.request(.get, "/api/2.0/ips/", authenticated: false, headers: [.authorization: auth])
            #expect(carols.totalCount == 1)
            let carolsVLANs = try await env.request(.get, "/api/2.0/vlans/", authenticated: false, headers: [.authorization: auth])
            #expect(carolsVLANs.totalCount == 0)
        }
    }

    @Test("addresses come from 100.64.0.0/10, consecutive hosts .2-.254 of consecutive /24s")
    func allocation() {
        #expect(NetworkAllocation.address(seq: 1) == ("100.64.0.2", "100.64.0.1", 24))
        #expect(NetworkAllocation.address(seq: 253).address == "100.64.0.254")
        #expect(NetworkAllocation.address(seq: 254) == ("100.64.1.2", "100.64.1.1", 24))
        #expect(NetworkAllocation.address(seq: 253 * 256 + 1).address == "100.65.0.2")
        #expect(NetworkAllocation.ipSubscription(seq: 1) != NetworkAllocation.vlanSubscription(seq: 1))
    }
}
