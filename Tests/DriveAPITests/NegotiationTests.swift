import DriveAPI
import DriveModel
import Foundation
import HTTPTypes
import Testing

/// Content negotiation (reference §1): `Accept` and `?format=`.
@Suite struct NegotiationTests {
    @Test("an Accept that admits no served type is 406 with the error array; */*, application/* and JSON are served")
    func accept() async throws {
        try await withDrivesd { env in
            _ = try await env.createDrive()
            func code(_ accept: String?, _ path: String = "/api/2.0/drives/") async throws -> Reply {
                try await env.request(.get, path, headers: accept.map { [.accept: $0] } ?? [:])
            }
            for refused in ["application/xml", "text/html", "application/json;q=0, application/xml", "image/png, text/*", "application/octet-stream"] {
                let reply = try await code(refused)
                #expect(reply.code == 406, "\(refused): \(reply.code)")
                #expect(reply.error.type == "validation", "\(refused)")
                #expect(reply.error.point == "Accept", "\(refused)")
                #expect(reply.headers[.contentType]?.hasPrefix("application/json") == true)
            }
            for served in [nil, "application/json", "*/*", "application/*", "text/html, */*;q=0.8", "APPLICATION/JSON; charset=utf-8", "garbage"] {
                let reply = try await code(served)
                #expect(reply.code == 200, "\(served ?? "no Accept"): \(reply.code)")
                #expect(reply.totalCount == 1, "\(served ?? "no Accept")")
            }
            // A drive's bytes may be asked for as such; JSON stays acceptable for its errors.
            let drive = try #require(try await env.get("/api/2.0/drives/").first?["uuid"]?.stringValue)
            try await env.tick()
            let download = "/api/2.0/drives/\(drive)/download/"
            #expect(try await env.request(.get, download, headers: [.accept: "application/octet-stream", .range: "bytes=0-1023"]).code == 206)
            #expect(try await env.request(.get, download, headers: [.accept: "text/html", .range: "bytes=0-1023"]).code == 406)
            // Accounts' login is negotiated too; the answer's type is JSON.
            #expect(try await env.request(.post, "/api/2.0/accounts/action/?do=login", body: "{}", authenticated: false,
                                          headers: [.accept: "application/xml"]).code == 406)
        }
    }

    @Test("?format=json overrides Accept on GET, the last format wins, other formats are 406; other methods ignore it")
    func format() async throws {
        try await withDrivesd { env in
            let drive = try await env.createDrive()
            let xml: HTTPFields = [.accept: "application/xml"]
            let json = try await env.request(.get, "/api/2.0/drives/?format=json", headers: xml)
            #expect(json.code == 200)
            #expect(json.totalCount == 1, "format is not a filter")
            #expect(try await env.request(.get, "/api/2.0/drives/\(drive)/?format=json", headers: xml).code == 200)
            let refused = try await env.request(.get, "/api/2.0/drives/?format=xml")
            #expect(refused.code == 406)
            #expect(refused.error.point == "format")
            #expect(try await env.request(.get, "/api/2.0/drives/?format=xml&format=json").code == 200)
            #expect(try await env.request(.get, "/api/2.0/drives/?format=json&format=xml").code == 406)
            let created = try await env.request(
                .post, "/api/2.0/drives/?format=xml", body: #"{"name": "f", "size": 1073741824, "media": "disk"}"#)
            #expect(created.code == 201)
        }
    }
}

/// Numbers as the real API takes them: JSON integers, integral numbers and numeric strings.
@Suite struct NumericStringTests {
    @Test("size, iops, license amount, cpu, mem and boot_order accept numeric strings and answer numbers; other strings are 400 naming the field")
    func numericStrings() async throws {
        try await withDrivesd { env in
            let created = try await env.request(
                .post, "/api/2.0/drives/",
                body: #"{"name": "n", "size": "1073741824", "media": "disk", "storage_type": "dssd", "iops": "1500", "licenses": [{"license": 12, "amount": "2"}]}"#)
            #expect(created.code == 201, "\(created.text)")
            let drive = try #require(created.first)
            #expect(drive["size"] == .int(1_073_741_824))
            #expect(drive["iops"] == .int(1500))
            #expect(drive["licenses"]?.arrayValue?.first?["amount"] == .int(2))
            let uuid = try #require(drive["uuid"]?.stringValue)
            try await env.tick()
            let server = try await env.request(
                .post, "/api/2.0/servers/",
                body: #"{"name": "s", "cpu": "2000", "mem": "1073741824", "vnc_password": "pw", "drives": [{"boot_order": "2", "dev_channel": "0:0", "device": "virtio", "drive": "\#(uuid)"}]}"#)
            #expect(server.code == 201, "\(server.text)")
            #expect(server.first?["cpu"] == .int(2000))
            #expect(server.first?["mem"] == .int(1_073_741_824))
            #expect(server.first?["drives"]?.arrayValue?.first?["boot_order"] == .int(2))

            for (body, point) in [
                (#"{"name": "x", "size": "big", "media": "disk"}"#, "size"),
                (#"{"name": "x", "size": 1073741824, "media": "disk", "iops": "fast"}"#, "iops"),
                (#"{"name": "x", "size": 1073741824, "media": "disk", "licenses": [{"license": 12, "amount": "two"}]}"#, "licenses"),
            ] {
                let refused = try await env.request(.post, "/api/2.0/drives/", body: body)
                #expect(refused.code == 400, "\(body)")
                #expect(refused.error.point == point, "\(body): \(refused.text)")
            }
            let badBoot = try await env.request(
                .post, "/api/2.0/servers/",
                body: #"{"name": "s", "cpu": 1000, "mem": 536870912, "vnc_password": "pw", "drives": [{"boot_order": "first", "dev_channel": "0:1", "device": "virtio", "drive": "\#(uuid)"}]}"#)
            #expect(badBoot.code == 400)
        }
    }
}
