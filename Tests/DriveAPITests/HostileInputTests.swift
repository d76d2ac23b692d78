import DriveAPI
import DriveModel
import Foundation
import HTTPTypes
import Testing

/// Bad input, everywhere: every answer is a CloudSigma error array with a 4xx status (or a
/// success where the input is merely unusual), never a 5xx, a hang or a crash, and other users'
/// data is untouched.
@Suite("Hostile inputs")
struct HostileInputTests {
    /// Values of every JSON type, plus the awkward ones.
    static let wrongValues: [String] = [
        "null", "true", "0", "-1", "1e400", "-9223372036854775809", "18446744073709551616", "3.14", "\"\"",
        "\"x\"", "\"\\u0000\"", "[]", "[[[]]]", "{}", "{\"a\": {\"b\": []}}", "\"" + String(repeating: "y", count: 70_000) + "\"",
    ]

    static let validDrive = #"{"name": "n", "size": 1073741824, "media": "disk", "meta": {"k": "v"}, "allow_multimount": false, "affinities": [], "tags": [], "licenses": [], "storage_type": "dssd", "iops": 100}"#
    static let validServer = #"{"name": "s", "cpu": 1000, "mem": 536870912, "vnc_password": "pw", "drives": [], "meta": {}, "tags": [], "nics": []}"#
    static let validTag = #"{"name": "t", "meta": {}, "resources": []}"#

    /// Every field of `valid` replaced by every wrong value, one at a time.
    static func mutations(of valid: String) -> [String] {
        guard case .object(let object)? = try? JSONDecoder().decode(JSONValue.self, from: Data(valid.utf8)) else { return [] }
        var out: [String] = []
        for key in object.keys.sorted() {
            for wrong in wrongValues {
                var copy = object
                copy.removeValue(forKey: key)
                let rest = JSONValue.object(copy).jsonString.dropFirst().dropLast()
                out.append("{\"\(key)\": \(wrong)\(rest.isEmpty ? "" : ", ")\(rest)}")
            }
        }
        return out
    }

    static let malformedBodies: [String] = [
        "", " ", "{", "}", "[", "{\"name\": ", "{\"objects\": [", "nul", "tru", "\"unterminated", "{'single': 'quotes'}",
        "{\"a\" \"b\"}", "{\"a\": 1,}", "[1, 2,]", "\u{FEFF}{}", "{\"a\": 01}", "{\"a\": NaN}", "{\"a\": Infinity}",
        String(repeating: "[", count: 10_000), String(repeating: "{\"a\":", count: 5_000) + "1" + String(repeating: "}", count: 5_000),
        "{\"objects\": " + String(repeating: "[", count: 600) + String(repeating: "]", count: 600) + "}",
    ]

    static let hostileStrings: [String] = [
        "../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "'; DROP TABLE drives; --", "\" OR 1=1 --", "%", "_", "\\", "\\\\,",
        "%00", "a%00b", "%FF%FE", "%C0%AF", String(repeating: "z", count: 5000), "😀", "%E2%80%AE", "*", "?", "#",
    ]

    func assertSafe(_ reply: Reply, _ what: String) {
        #expect(reply.code < 500 || reply.code == 503, "\(what) → \(reply.code) \(reply.text.prefix(200))")
        if reply.code >= 400 {
            let first = reply.json?.arrayValue?.first?.objectValue
            #expect(first.map { Set($0.keys) } == ["error_point", "error_type", "error_message"], "\(what): \(reply.text.prefix(200))")
        }
    }

    @Test("wrong types in every field of drives, servers and tags, on create and update")
    func wrongTypesEverywhere() async throws {
        try await withDrivesd { env in
            let victim = try await env.createDrive(name: "bob-drive", as: env.bob)
            let drive = try await env.createDrive(name: "target")
            try await env.tick()
            let server = try await env.createServer()
            let tag = try #require(try await env.request(.post, "/api/2.0/tags/", body: Self.validTag).first?["uuid"]?.stringValue)
            let uploading = try #require(
                try await env.request(.post, "/api/2.0/initupload/", body: #"{"name": "u", "size": 1073741824, "media": "disk"}"#)
                    .first?["uuid"]?.stringValue)
            var tried = 0
            let targets: [(HTTPRequest.Method, String, String)] = [
                (.post, "/api/2.0/drives/", Self.validDrive), (.put, "/api/2.0/drives/\(drive)/", Self.validDrive),
                (.post, "/api/2.0/drives/\(drive)/action/?do=resize", Self.validDrive),
                (.post, "/api/2.0/drives/\(drive)/action/?do=clone", Self.validDrive),
                (.post, "/api/2.0/servers/", Self.validServer), (.put, "/api/2.0/servers/\(server)/", Self.validServer),
                (.post, "/api/2.0/tags/", Self.validTag), (.put, "/api/2.0/tags/\(tag)/", Self.validTag),
                (.post, "/api/2.0/initupload/", Self.validDrive),
                (.post, "/api/2.0/snapshots/", #"{"drive": "\#(drive)", "name": "s", "meta": {}, "tags": []}"#),
                (.post, "/api/2.0/drives/\(uploading)/action/?do=upload_chunk", #"{"chunk_number": 0, "chunk_size": 1048576}"#),
                (.put, "/api/2.0/profile/", #"{"clone_naming": "COUNTER", "first_name": "A", "key_auth": false, "meta": {}, "tax_rate": null, "autotopup_amount": "1.5"}"#),
            ]
            for (method, path, valid) in targets {
                for body in Self.mutations(of: valid) + Self.malformedBodies {
                    assertSafe(try await env.request(method, path, body: body), "\(method) \(path) \(body.prefix(80))")
                    tried += 1
                }
                // Let clones and resizes settle so the next round meets an idle drive.
                try await env.api.worker.tick(now: Date().addingTimeInterval(3600))
            }
            #expect(tried > 1000)
            let untouched = try await env.get("/api/2.0/drives/\(victim)/", as: env.bob)
            #expect(untouched.json?["name"] == .string("bob-drive"))
            #expect(try await env.get("/api/2.0/drives/", as: env.bob).totalCount == 1)
            #expect(try await env.get("/api/2.0/profile/", as: env.bob).json?["clone_naming"] == .string("NONE"))
        }
    }

    @Test("hostile strings in names, filters, ordering, fields and path segments")
    func hostileStrings() async throws {
        try await withDrivesd { env in
            _ = try await env.createDrive(name: "bob-drive", as: env.bob)
            for text in Self.hostileStrings {
                let encoded = text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? text
                for path in [
                    "/api/2.0/drives/\(text)/", "/api/2.0/drives/\(encoded)/", "/api/2.0/drives/?name=\(encoded)",
                    "/api/2.0/drives/?name__contains=\(encoded)", "/api/2.0/drives/?uuid=\(encoded)", "/api/2.0/drives/?tag=\(encoded)",
                    "/api/2.0/drives/?tag__name=\(encoded)", "/api/2.0/drives/?order_by=\(encoded)", "/api/2.0/drives/?fields=\(encoded)",
                    "/api/2.0/drives/?limit=\(encoded)", "/api/2.0/drives/?offset=\(encoded)", "/api/2.0/libdrives/?os=\(encoded)",
                    "/api/2.0/jobs/?state=\(encoded)", "/api/2.0/licenses/\(encoded)/", "/api/2.0/tags/\(encoded)/drives/",
                ] {
                    assertSafe(try await env.get(path), path)
                }
                let name = JSONValue.string(text).jsonString
                let created = try await env.request(
                    .post, "/api/2.0/drives/", body: #"{"name": \#(name), "size": 1073741824, "media": "disk"}"#)
                assertSafe(created, "create named \(text.prefix(40))")
                if created.code == 201 {
                    let found = try await env.get("/api/2.0/drives/detail/?limit=0&name=\(encoded.replacingOccurrences(of: "%2C", with: "%5C%2C"))")
                    assertSafe(found, "filter \(text.prefix(40))")
                }
            }
            // Nothing leaked across users: Bob still sees only his drive.
            #expect(try await env.get("/api/2.0/drives/", as: env.bob).totalCount == 1)
        }
    }

    @Test("malformed Basic headers and oversized bodies are refused cleanly")
    func headersAndSizes() async throws {
        try await withDrivesd(settings: APISettings(bodyLimit: 64 * 1024)) { env in
            // Only the header carrying Alice's credentials (the scheme's case does not matter,
            // RFC 9110 §11.1) may be let in; every other one is 401 with the error array.
            let headers: [(String, Int)] = [
                ("Basic", 401), ("Basic ", 401), ("Basic ====", 401), ("Basic \u{00e9}\u{00e9}", 401),
                ("basic " + Data("alice@example.com:alice-secret".utf8).base64EncodedString(), 200),
                ("Basic " + Data(":".utf8).base64EncodedString(), 401), ("Basic " + Data([0xff, 0xfe, 0x3a]).base64EncodedString(), 401),
                ("Basic " + String(repeating: "A", count: 8000), 401), ("Digest username=\"x\"", 401), ("Bearer", 401), ("\u{0001}", 401),
            ]
            #expect(headers.count == 11)
            for (header, expected) in headers {
                let reply = try await env.request(.get, "/api/2.0/drives/", headers: [.authorization: header])
                #expect(reply.code == expected, "\(header.prefix(30)) → \(reply.code)")
                if expected == 401 { #expect(reply.error.type == "permission", "\(header.prefix(30)): \(reply.text.prefix(200))") }
                assertSafe(reply, "auth \(header.prefix(30))")
            }
            let huge = #"{"name": ""# + String(repeating: "x", count: 200_000) + #"", "size": 1073741824, "media": "disk"}"#
            let refused = try await env.request(.post, "/api/2.0/drives/", body: huge)
            #expect(refused.code == 413)
            assertSafe(refused, "oversized")
            let many = "[" + Array(repeating: #"{"name": "m", "size": 1073741824, "media": "disk"}"#, count: 2000).joined(separator: ",") + "]"
            assertSafe(try await env.request(.post, "/api/2.0/drives/", body: many), "bulk over the limit")
            #expect(try await env.get("/api/2.0/drives/").totalCount == 0)
        }
    }

    @Test("hostile Digest, Bearer and cookie credentials and login bodies: 401 or 400 with the error array, never a session")
    func hostileCredentials() async throws {
        try await withDrivesd { env in
            let challenge = try #require(
                try await env.request(.get, "/api/2.0/drives/", authenticated: false).headers[values: .wwwAuthenticate].last)
            let nonce = challenge.components(separatedBy: "nonce=\"").dropFirst().first?.components(separatedBy: "\"").first ?? ""
            var headers = [
                "Digest", "Digest ", "Digest username", "Digest username=", "Digest username=\"", "Digest =\"x\"",
                "Digest username=\"alice@example.com\", realm=\"users\", nonce=\"\(nonce)\", uri=\"/api/2.0/drives/\", response=\"00\"",
                "Digest username=\"alice@example.com\", username=\"bob@example.com\", nonce=\"\(nonce)\"",
                "Digest nonce=\"1:2:3\", nonce=\"::\", uri=\"\\\"", "Digest " + String(repeating: "a=b, ", count: 2000),
                "Digest username=\"\u{0}\", realm=\"users\", nonce=\"\(nonce)\", uri=\"/\", qop=auth, nc=1, cnonce=x, response=\"x\"",
                "Bearer ", "Bearer \u{7F}", "Bearer " + String(repeating: "t", count: 8000), "Bearer dsd_", "Bearer a b c",
                "Negotiate x", "Digest\tusername=\"x\"",
            ]
            for text in Self.hostileStrings { headers.append("Bearer \(text)") }
            for header in headers {
                let reply = try await env.request(.get, "/api/2.0/drives/", headers: [.authorization: header])
                #expect(reply.code == 401, "\(header.prefix(40)) → \(reply.code)")
                assertSafe(reply, "auth \(header.prefix(40))")
            }
            for cookie in ["sessionid=", "sessionid", "sessionid=\"\"", "sessionid=" + String(repeating: "s", count: 8000), "sessionid=x; sessionid=y",
                "; ; ;", "sessionid=%00", "async_auth=a|b|c", "csrftoken=x"] + Self.hostileStrings.map({ "sessionid=\($0)" })
            {
                let reply = try await env.request(.post, "/api/2.0/drives/", body: Self.validDrive, authenticated: false, headers: [.cookie: cookie])
                #expect(reply.code == 401, "cookie \(cookie.prefix(40)) → \(reply.code)")
                assertSafe(reply, "cookie \(cookie.prefix(40))")
                let socket = try await env.request(.get, "/websocket", authenticated: false, headers: [.cookie: cookie])
                #expect(socket.code == 401, "websocket cookie \(cookie.prefix(40))")
            }
            // An account that does not exist: the failures it piles up throttle nobody else.
            let valid = #"{"username": "mallory@example.com", "password": "wrong"}"#
            for body in Self.mutations(of: valid) + Self.malformedBodies {
                let reply = try await env.request(.post, "/api/2.0/accounts/action/?do=login", body: body, authenticated: false)
                // Well-formed credentials of nobody: 401; anything else: 400.
                let parsed = try? JSONDecoder().decode(JSONValue.self, from: Data(body.utf8))
                var wellFormed = false
                if case .string(let name)? = parsed?["username"], !name.isEmpty, case .string? = parsed?["password"] {
                    wellFormed = parsed?.objectValue != nil
                }
                #expect(reply.code == (wellFormed ? 401 : 400), "login \(body.prefix(60)) → \(reply.code)")
                assertSafe(reply, "login \(body.prefix(60))")
                #expect(reply.headers[values: .setCookie].isEmpty, "login \(body.prefix(60)) set a cookie")
            }
            for action in Self.hostileStrings {
                let escaped = action.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "x"
                assertSafe(try await env.request(.post, "/api/2.0/accounts/action/?do=\(escaped)", body: "{}"), "do=\(action.prefix(20))")
            }
            #expect(try await env.get("/api/2.0/drives/").totalCount == 0)
        }
    }

    @Test("hostile console forms, paths and queries, and hostile queries on the admin API: no 5xx, nothing changes")
    func hostileConsoleAndAdmin() async throws {
        try await withDrivesd { env in
            let uuid = try await env.createDrive(name: "steady")
            let admin: HTTPFields = [.authorization: TestEnv.adminAuthorization]
            let page = try await ConsoleTests.console(env, .get, "/")
            let csrf = try ConsoleTests.csrf(page)
            func console(_ method: HTTPRequest.Method, _ path: String, form: String? = nil) async throws -> Reply {
                let reply = try await ConsoleTests.console(env, method, path, form: form)
                #expect(reply.code < 500, "\(method) \(path) → \(reply.code) \(reply.text.prefix(200))")
                if reply.code == 303 {
                    let location = reply.headers[.location] ?? ""
                    #expect(location.hasPrefix("/_drivesd/console/"), "\(path) redirects to \(location)")
                    #expect(!location.contains("\r") && !location.contains("\n") && !location.contains("Set-Cookie"), "\(path) redirects to \(location)")
                }
                return reply
            }
            for hostile in Self.hostileStrings {
                let encoded = hostile.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? hostile
                _ = try await console(.get, "/accounts/\(encoded)")
                _ = try await console(.get, "/accounts/\(env.alice.user.uuid)/drives/\(encoded)")
                _ = try await console(.get, "/drives/\(encoded)")
                _ = try await console(.get, "/accounts/\(env.alice.user.uuid)?name=\(encoded)&tag=\(encoded)&page=\(encoded)")
                _ = try await console(.get, "/requests?account=\(encoded)&path=\(encoded)&status=\(encoded)&after=\(encoded)")
                _ = try await console(.post, "/transitions/\(encoded)", form: "csrf=\(csrf)&mode=\(encoded)&seconds=\(encoded)")
                _ = try await console(.post, "/advance", form: "csrf=\(csrf)&uuid=\(encoded)&return=\(encoded)")
                _ = try await console(.post, "/faults", form: "csrf=\(csrf)&faults=\(encoded)")
                _ = try await console(.post, "/drives/\(encoded)/availability", form: "csrf=\(csrf)&status=\(encoded)")
                for path in ["pending?uuid=\(encoded)&limit=\(encoded)", "requests?after=\(encoded)&status=\(encoded)&account=\(encoded)"] {
                    assertSafe(try await env.request(.get, "/_drivesd/\(path)", headers: admin), path)
                }
                assertSafe(
                    try await env.request(.get, "/_drivesd/accounts/\(encoded)/drives/\(uuid)/download/", headers: admin), "download as \(hostile)")
                // Named states: hostile names and accounts, in bodies, paths and forms.
                let name = JSONValue.string(hostile).jsonString
                for body in [#"{"name": \#(name)}"#, #"{"name": "hostile-ok", "account": \#(name)}"#, #"{"name": "x", "replace": \#(name)}"#] {
                    assertSafe(try await env.request(.post, "/_drivesd/states", body: body, headers: admin), "save \(body.prefix(40))")
                }
                assertSafe(try await env.request(.get, "/_drivesd/states/\(encoded)", headers: admin), "state \(hostile.prefix(20))")
                assertSafe(try await env.request(.post, "/_drivesd/states/\(encoded)/load", headers: admin), "load \(hostile.prefix(20))")
                assertSafe(try await env.request(.delete, "/_drivesd/states/\(encoded)", headers: admin), "delete \(hostile.prefix(20))")
                _ = try await console(.post, "/states", form: "csrf=\(csrf)&name=\(encoded)&account=\(encoded)&replace=\(encoded)")
                _ = try await console(.post, "/states/\(encoded)/load", form: "csrf=\(csrf)")
                _ = try await console(.post, "/states/\(encoded)/delete", form: "csrf=\(csrf)")
            }
            // The one hostile string that is a valid name ("_") was saved; no other state exists.
            let states = try await env.admin(.get, "states").json?["objects"]?.arrayValue ?? []
            #expect(states.compactMap { $0["name"]?.stringValue } == ["_"])
            // Broken encodings, odd seconds, a CRLF in the return path, a form over the size limit.
            for form in [
                "csrf=\(csrf)&mode=time&seconds=NaN", "csrf=\(csrf)&mode=time&seconds=1e400", "csrf=\(csrf)&mode=time&seconds=-0",
                "csrf=\(csrf)&mode=%ZZ&seconds=%", "csrf=\(csrf)&&&==&mode", "csrf=\(csrf)&mode=manual&return=%2F_drivesd%2Fconsole%2F%0D%0ASet-Cookie:x=y",
            ] {
                _ = try await console(.post, "/transitions/resize", form: form)
            }
            let big = try await console(.post, "/faults", form: "csrf=\(csrf)&faults=" + String(repeating: "delay-0s%0A", count: 8000))
            #expect(big.code == 413)
            // Nothing changed: no mode set but those the valid forms chose, the drive as it was, no fault list.
            #expect(env.api.stores.transitions.modes.keys.allSatisfy { $0 == .resize })
            #expect(try await env.status(uuid) == "creating")
            #expect(try await env.admin(.get, "faults").json?["objects"]?.arrayValue?.isEmpty == true)
        }
    }
}

/// A second account can neither see nor change the first one's objects through any route.
@Suite("Isolation across accounts")
struct IsolationTests {
    @Test("hostile uploads and downloads: ranges, resumable parameters, multipart bodies, chunk bodies")
    func hostileContentRequests() async throws {
        // Small drives: a range that is ignored answers the whole drive.
        try await withDrivesd(settings: ContentTests.settings) { env in
            let uploading = try #require(
                try await env.request(.post, "/api/2.0/initupload/", body: #"{"name": "u", "size": 3000000, "media": "disk"}"#)
                    .first?["uuid"]?.stringValue)
            let drive = try await env.createDrive(name: "d", size: Int64(ContentTests.minimum))
            try await env.tick()
            var tried = 0
            func safe(_ method: HTTPRequest.Method, _ path: String, body: [UInt8]? = nil, headers: HTTPFields = [:]) async throws {
                let reply = try await env.send(method, path, bytes: body, headers: headers)
                let text = String(decoding: reply.body.prefix(400), as: UTF8.self)
                #expect(reply.status.code < 500 || reply.status.code == 503, "\(method) \(path) → \(reply.status.code) \(text)")
                if reply.status.code >= 400 {
                    let first = (try? JSONDecoder().decode(JSONValue.self, from: Data(reply.body)))?.arrayValue?.first?.objectValue
                    #expect(first.map { Set($0.keys) } == ["error_point", "error_type", "error_message"], "\(path): \(text)")
                }
                tried += 1
            }
            for range in [
                "bytes=", "bytes=-", "bytes=--1", "bytes=a-b", "bytes=5-1", "bytes=-0", "bytes=99999999999999999999-",
                "bytes=0-99999999999999999999", "items=0-1", "bytes=0-1,", ",", "bytes=\u{0}", String(repeating: "bytes=0-1,", count: 500),
            ] {
                try await safe(.get, "/api/2.0/drives/\(drive)/download/", headers: [.range: range])
            }
            for query in [
                "", "?resumableChunkNumber=", "?resumableChunkNumber=0&resumableChunkSize=1", "?resumableChunkNumber=-1&resumableChunkSize=1",
                "?resumableChunkNumber=1&resumableChunkSize=0", "?resumableChunkNumber=1&resumableChunkSize=-5",
                "?resumableChunkNumber=99999999999999999999&resumableChunkSize=1", "?resumableChunkNumber=1&resumableChunkSize=1e9",
                "?resumableChunkNumber=9223372036854775807&resumableChunkSize=9223372036854775807",
            ] {
                try await safe(.get, "/api/2.0/drives/\(uploading)/upload/\(query)")
            }
            let multipart = "multipart/form-data; boundary=xyz"
            for body in [
                "", "--xyz--", "--xyz\r\n\r\n--xyz--", "--xyz\r\nContent-Disposition: form-data\r\n\r\nx\r\n--xyz--",
                "--xyz\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc",
                "--xyz\r\nContent-Disposition: form-data; name=\"resumableChunkNumber\"\r\n\r\n1\r\n--xyz\r\nContent-Disposition: form-data; name=\"resumableChunkSize\"\r\n\r\n9223372036854775807\r\n--xyz\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc\r\n--xyz--",
                "--xyz\r\nContent-Disposition: form-data; name=\"resumableChunkNumber\"\r\n\r\n1\r\n--xyz\r\nContent-Disposition: form-data; name=\"resumableChunkSize\"\r\n\r\n1000\r\n--xyz\r\nContent-Disposition: form-data; name=\"resumableTotalSize\"\r\n\r\nnope\r\n--xyz--",
            ] {
                for contentType in [multipart, "multipart/form-data", "multipart/form-data; boundary=", "application/octet-stream"] {
                    try await safe(.post, "/api/2.0/drives/\(uploading)/upload/", body: Array(body.utf8), headers: [.contentType: contentType])
                }
            }
            for body in [#"{"chunk_number": -1}"#, #"{"chunk_number": 1e30}"#, #"{"chunk_number": "0", "chunk_size": "0"}"#,
                #"{"chunk_number": 0, "chunk_size": -1}"#, #"{"chunk_number": 9223372036854775807, "chunk_size": 1}"#, "[]", "7"] {
                try await safe(.post, "/api/2.0/drives/\(uploading)/action/?do=upload_chunk", body: Array(body.utf8))
            }
            for token in ["x", "../../etc/passwd", String(repeating: "f", count: 5000), "%00"] {
                try await safe(.post, "/api/2.0/drives/\(uploading)/upload_chunk/\(token)/", body: [1, 2, 3])
            }
            try await safe(.post, "/api/2.0/drives/upload/", body: [], headers: [.contentLength: "0"])
            try await safe(.post, "/api/2.0/drives/upload/", body: [1], headers: [.contentLength: "99999999999999999999999"])
            #expect(tried == 63)
            // One chunk of the corpus is legitimate: chunk 1 of a chunk size over the drive's size
            // covers the whole drive; its 3-byte body is zero-filled to the end and completes it.
            #expect(try await env.status(uploading) == "unmounted")
            let head = try await env.send(.get, "/api/2.0/drives/\(uploading)/download/", headers: [.range: "bytes=0-3"])
            #expect(sameBytes(head.body, Array("abc".utf8) + [0]))
        }
    }

    @Test("every route with one of Alice's ids, called by Bob: 404 (or an empty list), and nothing changes")
    func everyRoute() async throws {
        try await withDrivesd { env in
            let drive = try await env.createDrive(name: "alice-drive")
            try await env.tick()
            let clone = try await env.request(.post, "/api/2.0/drives/\(drive)/action/?do=clone")
            let job = try #require(clone.first?["jobs"]?.arrayValue?.first?["uuid"]?.stringValue)
            try await env.tick()
            let server = try await env.createServer(name: "alice-server")
            let tag = try #require(
                try await env.request(.post, "/api/2.0/tags/", body: #"{"name": "alice-tag", "resources": ["\#(drive)"]}"#).first?["uuid"]?.stringValue)
            let snapshot = try #require(
                try await env.request(.post, "/api/2.0/snapshots/", body: #"{"drive": "\#(drive)", "name": "alice-snap"}"#).first?["uuid"]?
                    .stringValue)
            try await env.tick()
            let before = try await env.get("/api/2.0/drives/detail/?limit=0").objects
            let snapshotsBefore = try await env.get("/api/2.0/snapshots/?limit=0").objects
            let ip = try #require(try await env.get("/api/2.0/ips/").first?["uuid"]?.stringValue)
            let vlan = try #require(try await env.get("/api/2.0/vlans/").first?["uuid"]?.stringValue)
            let networksBefore = [try await env.get("/api/2.0/ips/detail/").objects, try await env.get("/api/2.0/vlans/detail/").objects]
            let ids: [String: String] = [
                "drives": drive, "servers": server, "tags": tag, "jobs": job, "snapshots": snapshot, "ips": ip, "vlans": vlan,
            ]
            let bodies: [String: String] = [
                "drives": HostileInputTests.validDrive, "servers": HostileInputTests.validServer, "tags": HostileInputTests.validTag,
                "snapshots": #"{"drive": "\#(drive)", "name": "stolen"}"#, "ips": #"{"meta": {"stolen": "yes"}}"#,
                "vlans": #"{"meta": {"stolen": "yes"}, "tags": []}"#,
            ]
            var checked = 0
            var networkRoutes = 0
            for route in env.api.routes() where route.path.contains("{uuid}") || route.path.contains("{id}") {
                let collection = String(route.path.split(separator: "/")[2])
                guard let id = ids[collection] else { continue }
                if collection == "ips" || collection == "vlans" { networkRoutes += 1 }
                var path = route.path.replacingOccurrences(of: "{uuid}", with: id).replacingOccurrences(of: "{id}", with: id)
                if path.hasSuffix("/action/") { path += collection == "servers" ? "?do=start" : "?do=clone" }
                let method = HTTPRequest.Method(route.method)!
                let reply = try await env.request(method, path, body: method == .get || method == .delete ? nil : bodies[collection] ?? "{}", as: env.bob)
                if path.hasSuffix("/drives/") || path.hasSuffix("/servers/") || path.hasSuffix("/detail/") {
                    #expect(reply.code == 404, "\(route.method) \(path) → \(reply.code)")
                } else {
                    #expect(reply.code == 404, "\(route.method) \(path) → \(reply.code) \(reply.text.prefix(120))")
                }
                checked += 1
            }
            #expect(checked >= 20)
            #expect(networkRoutes == 4, "GET and PUT of one IP and of one VLAN")
            #expect([try await env.get("/api/2.0/ips/detail/").objects, try await env.get("/api/2.0/vlans/detail/").objects] == networksBefore)
            #expect(try await env.get("/api/2.0/snapshots/?limit=0").objects == snapshotsBefore)
            #expect(try await env.get("/api/2.0/snapshots/?drive=\(drive)", as: env.bob).totalCount == 0)
            #expect(try await env.request(.post, "/api/2.0/snapshots/", body: #"{"drive": "\#(drive)"}"#, as: env.bob).code == 404)
            #expect(try await env.request(.delete, "/api/2.0/snapshots/", body: #"[{"uuid": "\#(snapshot)"}]"#, as: env.bob).code == 404)
            for list in [
                "/api/2.0/drives/detail/", "/api/2.0/servers/detail/", "/api/2.0/tags/", "/api/2.0/jobs/", "/api/2.0/drives/availability_groups/",
                "/api/2.0/ips/detail/", "/api/2.0/vlans/detail/", "/api/2.0/ips/?uuid=\(ip)", "/api/2.0/vlans/?tag=\(tag)",
            ] {
                let reply = try await env.get(list, as: env.bob)
                #expect(reply.code == 200, "\(list)")
                #expect(
                    !reply.text.contains(drive) && !reply.text.contains(server) && !reply.text.contains(tag) && !reply.text.contains(ip)
                        && !reply.text.contains(vlan), "\(list) leaks")
            }
            for filter in ["uuid=\(drive)", "tag=\(tag)", "tag__name=alice-tag", "name=alice-drive"] {
                #expect(try await env.get("/api/2.0/drives/?\(filter)", as: env.bob).totalCount == 0)
            }
            #expect(try await env.request(.delete, "/api/2.0/drives/", body: #"[{"uuid": "\#(drive)"}]"#, as: env.bob).code == 404)
            #expect(try await env.request(.put, "/api/2.0/drives/", body: #"[{"uuid": "\#(drive)", "name": "x", "size": 1073741824, "media": "disk"}]"#, as: env.bob).code == 404)
            #expect(try await env.request(.post, "/api/2.0/tags/", body: #"{"name": "steal", "resources": ["\#(drive)"]}"#, as: env.bob).code == 404)
            #expect(try await env.request(.post, "/api/2.0/drives/?avoid=\(drive)", body: #"{"name": "b", "size": 1073741824, "media": "disk"}"#, as: env.bob).code == 201)
            let after = try await env.get("/api/2.0/drives/detail/?limit=0").objects
            #expect(after == before)
            #expect(try await env.get("/api/2.0/servers/\(server)/").json?["status"] == .string("stopped"))
            #expect(try await env.get("/api/2.0/tags/\(tag)/").json?["name"] == .string("alice-tag"))
        }
    }
}
