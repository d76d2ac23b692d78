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
