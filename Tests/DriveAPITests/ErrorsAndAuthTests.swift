import DriveAPI
import DriveModel
import Foundation
import HTTPTypes
import Testing

@Suite("Errors, bad input and authentication")
struct ErrorsAndAuthTests {
    static let create = "/api/2.0/drives/"

    /// (body, error_point) pairs that must each be 400 validation.
    static let invalidCreates: [(String, String?)] = [
        (#"{"objects": [{"name": "x", "size": 1073741824, "media": "disk""#, nil),  // truncated
        ("not json at all", nil),
        ("\u{FF}\u{FE}", nil),
        (#"42"#, nil),
        (#"{"objects": {"name": "x"}}"#, "objects"),
        (#"[]"#, "objects"),
        (#"["a string"]"#, nil),
        (#"{"size": 1073741824, "media": "disk"}"#, "name"),
        (#"{"name": "x", "media": "disk"}"#, "size"),
        (#"{"name": "x", "size": 1073741824}"#, "media"),
        (#"{"name": 5, "size": 1073741824, "media": "disk"}"#, "name"),
        (#"{"name": null, "size": 1073741824, "media": "disk"}"#, "name"),
        (#"{"name": "x", "size": "big", "media": "disk"}"#, "size"),
        (#"{"name": "x", "size": 1.5, "media": "disk"}"#, "size"),
        (#"{"name": "x", "size": -1, "media": "disk"}"#, "size"),
        (#"{"name": "x", "size": 1e300, "media": "disk"}"#, "size"),
        (#"{"name": "x", "size": 1073741824, "media": "floppy"}"#, "media"),
        (#"{"name": "x", "size": 1073741824, "media": "disk", "storage_type": "tape"}"#, "storage_type"),
        (#"{"name": "x", "size": 1073741824, "media": "disk", "storage_type": "magnetic"}"#, "storage_type"),
        (#"{"name": "x", "size": 1024, "media": "disk"}"#, "size"),
        (#"{"name": "x", "size": 536870912, "media": "disk", "storage_type": "zadara"}"#, "size"),
        (#"{"name": "x", "size": 99999999999999999, "media": "disk"}"#, "size"),
        (#"{"name": "x", "size": 1073741824, "media": "disk", "meta": {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa": "v"}}"#, "meta"),
        (#"{"name": "x", "size": 1073741824, "media": "disk", "meta": {"k": 1}}"#, "meta"),
        (#"{"name": "x", "size": 1073741824, "media": "disk", "meta": ["k"]}"#, "meta"),
        (#"{"name": "x", "size": 1073741824, "media": "disk", "allow_multimount": "yes"}"#, "allow_multimount"),
        (#"{"name": "x", "size": 1073741824, "media": "disk", "affinities": ["hdd"]}"#, "affinities"),
        (#"{"name": "x", "size": 1073741824, "media": "disk", "iops": 99999999}"#, "iops"),
        (#"{"name": "x", "size": 1073741824, "media": "disk", "licenses": [{"license": "/api/2.0/licenses/999/"}]}"#, "licenses"),
        (#"{"name": "x", "size": 1073741824, "media": "disk", "licenses": [{"amount": 1}]}"#, "licenses"),
        (#"{"name": "x", "size": 1073741824, "media": "disk", "tags": "t1"}"#, "tags"),
        (#"{"name": "x", "size": 1073741824, "media": "disk", "tags": [5]}"#, "tags"),
        (#"{"name": "a\u0000b", "size": 1073741824, "media": "disk"}"#, "name"),
    ]

    @Test("bad input is 400 validation naming the field, and creates nothing")
    func invalidCreatesAreRefused() async throws {
        try await withDrivesd { env in
            for (body, point) in Self.invalidCreates {
                let reply = try await env.request(.post, Self.create, body: body)
                #expect(reply.code == 400, "\(body) → \(reply.code) \(reply.text)")
                #expect(reply.error.type == "validation", "\(body)")
                #expect(reply.error.point == point, "\(body): \(reply.text)")
                #expect(reply.json?.arrayValue?.first?.objectValue?.keys.sorted() == ["error_message", "error_point", "error_type"])
            }
            #expect(try await env.get("/api/2.0/drives/").totalCount == 0)
        }
    }

    @Test("deeply nested JSON is a 400, not a crash")
    func deepNesting() async throws {
        try await withDrivesd { env in
            let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
            let reply = try await env.request(.post, Self.create, body: deep)
            #expect(reply.code == 400)
        }
    }

    @Test("a body over the configured limit is 413 with the error array")
    func bodyLimit() async throws {
        try await withDrivesd(settings: APISettings(bodyLimit: 4096)) { env in
            let big = #"{"name": "x", "size": 1073741824, "media": "disk", "meta": {"k": ""# + String(repeating: "a", count: 10_000) + #""}}"#
            let reply = try await env.request(.post, Self.create, body: big)
            #expect(reply.code == 413)
            #expect(reply.error.type == "validation")
            #expect(try await env.get("/api/2.0/drives/").totalCount == 0)
        }
    }

    @Test("a method the resource does not allow is 405 with the error array; OPTIONS lists the methods")
    func methodNotAllowed() async throws {
        try await withDrivesd { env in
            let uuid = try await env.createDrive()
            let post = try await env.request(.post, "/api/2.0/drives/\(uuid)/", body: "{}")
            #expect(post.code == 405)
            #expect(post.error.type != nil)
            #expect(try await env.request(.delete, "/api/2.0/drives/schema/").code == 405)
            #expect(try await env.request(.put, "/api/2.0/licenses/", body: "{}").code == 405)
            #expect(try await env.request(.patch, "/api/2.0/drives/", body: "{}").code == 405)
            #expect(try await env.request(.get, "/api/2.0/drives/\(uuid)/action/?do=resize").code == 405)
            let options = try await env.request(.options, "/api/2.0/drives/\(uuid)/")
            #expect(options.code == 200)
            #expect(options.text == "GET,PUT,DELETE")
        }
    }

    @Test("no or bad credentials: 401 with the Basic challenge first and the error array")
    func unauthorized() async throws {
        try await withDrivesd { env in
            let none = try await env.request(.get, "/api/2.0/drives/", authenticated: false)
            #expect(none.code == 401)
            #expect(none.headers[values: .wwwAuthenticate].first == #"Basic realm="users""#)
            #expect(none.error.type == "permission")
            let wrong = "Basic " + Data("alice@example.com:nope".utf8).base64EncodedString()
            let bad = try await env.request(.get, "/api/2.0/drives/", headers: [.authorization: wrong])
            #expect(bad.code == 401)
            let unknown = "Basic " + Data("mallory@example.com:x".utf8).base64EncodedString()
            #expect(try await env.request(.get, "/api/2.0/drives/", headers: [.authorization: unknown]).code == 401)
            for garbage in ["Basic", "Basic !!!", "Bearer abc", "Basic " + Data("nocolon".utf8).base64EncodedString(), "Basic \u{7F}"] {
                let reply = try await env.request(.get, "/api/2.0/drives/", headers: [.authorization: garbage])
                #expect(reply.code == 401, "\(garbage)")
            }
            // Unauthenticated writes change nothing.
            let create = try await env.request(
                .post, Self.create, body: #"{"name": "x", "size": 1073741824, "media": "disk"}"#, authenticated: false)
            #expect(create.code == 401)
            #expect(try await env.get("/api/2.0/drives/").totalCount == 0)
            // The right password still works after wrong ones (and is served from the cache after).
            #expect(try await env.get("/api/2.0/drives/").code == 200)
            #expect(try await env.get("/api/2.0/drives/").code == 200)
        }
    }

    @Test("another user's drive is 404 for every method and never listed; foreign uuids fail bulk operations whole")
    func isolation() async throws {
        try await withDrivesd { env in
            let mine = try await env.createDrive(name: "alice-drive")
            let theirs = try await env.createDrive(name: "bob-drive", as: env.bob)
            try await env.tick()
            let path = "/api/2.0/drives/\(theirs)/"
            let body = #"{"name": "stolen", "size": 2147483648, "media": "disk"}"#
            for (method, target, payload) in [
                (HTTPRequest.Method.get, path, nil), (.put, path, body), (.delete, path, nil),
                (.post, path + "action/?do=resize", body),
            ] as [(HTTPRequest.Method, String, String?)] {
                let reply = try await env.request(method, target, body: payload)
                #expect(reply.code == 404, "\(method) \(target)")
                #expect(reply.error.type == "notexist")
            }
            let listed = try await env.get("/api/2.0/drives/detail/?limit=0").objects.compactMap { $0["uuid"]?.stringValue }
            #expect(listed == [mine])
            #expect(try await env.get("/api/2.0/drives/?uuid=\(theirs)").totalCount == 0)
            let bulkDelete = try await env.request(
                .delete, "/api/2.0/drives/", body: #"[{"uuid": "\#(mine)"}, {"uuid": "\#(theirs)"}]"#)
            #expect(bulkDelete.code == 404)
            let bulkPut = try await env.request(
                .put, "/api/2.0/drives/", body: #"[{"uuid": "\#(theirs)", "name": "x", "size": 1073741824, "media": "disk"}]"#)
            #expect(bulkPut.code == 404)
            // Bob's drive is untouched; so is Alice's.
            let bobs = try await env.get(path, as: env.bob)
            #expect(bobs.json?["name"] == .string("bob-drive"))
            #expect(try await env.get("/api/2.0/drives/\(mine)/").code == 200)
        }
    }

    @Test("unknown paths answer 404 notexist with the error array")
    func unknownPath() async throws {
        try await withDrivesd { env in
            for path in ["/api/2.0/nothing/", "/api/2.0/drives/x/y/z/", "/api/2.0/drives/../../etc/passwd", "/"] {
                let reply = try await env.get(path)
                #expect(reply.code == 404, "\(path)")
                #expect(reply.error.type == "notexist")
            }
            let quote = try await env.get("/api/2.0/drives/x'%20OR%201=1--/")
            #expect(quote.code == 404)
        }
    }
}
