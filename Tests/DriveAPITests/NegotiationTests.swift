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
