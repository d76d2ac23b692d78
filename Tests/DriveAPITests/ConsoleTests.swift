import DriveAPI
import DriveLifecycle
import DriveModel
import DriveStorage
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// The web console (`/_drivesd/console/`): every page and action through the router, its login
/// and sessions, CSRF refusals, user credentials refused; and the admin API it calls.
@Suite("Web console")
struct ConsoleTests {
    static let admin = TestEnv.adminAuthorization
    static let adminHeaders: HTTPFields = [.authorization: admin]

    /// A console page or action with the admin's Basic credentials (or `headers`).
    static func console(
        _ env: TestEnv, _ method: HTTPRequest.Method, _ path: String, form: String? = nil, headers: HTTPFields = adminHeaders
    ) async throws -> Reply {
        var all = headers
        if form != nil { all[.contentType] = "application/x-www-form-urlencoded" }
        let response = try await env.client.executeRequest(
            uri: "/_drivesd/console" + path, method: method, headers: all, body: form.map { ByteBuffer(string: $0) })
        return Reply(status: response.status, headers: response.headers, text: String(buffer: response.body), json: nil)
    }

    /// The CSRF token a page carries (`<meta name="csrf-token">`).
    static func csrf(_ page: Reply) throws -> String {
        let marker = #"<meta name="csrf-token" content=""#
        let start = try #require(page.text.range(of: marker)).upperBound
        return String(page.text[start...].prefix { $0 != "\"" })
    }

    static func field(_ name: String, in html: String) -> String? {
        guard let start = html.range(of: #"name="\#(name)" value=""#)?.upperBound else { return nil }
        return String(html[start...].prefix { $0 != "\"" })
    }

    static func encode(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? s
    }

    /// Logs in through the form: the session cookie's value.
    static func logIn(_ env: TestEnv) async throws -> String {
        let page = try await console(env, .get, "/login", headers: [:])
        let token = try #require(field("csrf", in: page.text))
        let cookie = try #require(AuthenticationTests.cookieValue(AuthenticationTests.cookies(page.headers)["drivesd_console_login"]))
        #expect(token == cookie)
        let reply = try await console(
            env, .post, "/login", form: "csrf=\(token)&username=admin&password=admin&next=%2F_drivesd%2Fconsole%2Fjobs",
            headers: [.cookie: "drivesd_console_login=\(cookie)"])
        try #require(reply.code == 303, "\(reply.text)")
        #expect(reply.headers[.location] == "/_drivesd/console/jobs")
        let line = try #require(AuthenticationTests.cookies(reply.headers)["drivesd_console"])
        #expect(line.contains("HttpOnly") && line.contains("SameSite=Strict") && line.contains("Path=/_drivesd"))
        return try #require(AuthenticationTests.cookieValue(line))
    }

    @Test("every page renders for the admin: overview, account, drive, jobs, transitions, faults, requests, upload")
    func pages() async throws {
        try await withDrivesd(settings: ContentTests.settings) { env in
            let uuid = try await env.createDrive(name: "page-drive", size: 8 * 1024 * 1024)
            _ = try await env.createDrive(name: "other", size: 8 * 1024 * 1024, as: env.bob)
            let expectations: [(String, [String])] = [
                ("/", ["<h1>Overview</h1>", "alice@example.com", "bob@example.com", "creating</span> 2"]),
                ("/accounts/\(env.alice.user.uuid)", ["Drives of alice@example.com", "page-drive", #"data-status="creating""#, "1 drive(s)"]),
                ("/accounts/alice@example.com", ["Drives of alice@example.com", "page-drive"]),
                ("/accounts/\(env.alice.user.uuid)/drives/\(uuid)", ["page-drive", #"id="drive-status" data-status="creating""#, "/download", "Pending transitions"]),
                ("/jobs", ["<h1>Jobs</h1>", "No job is running."]),
                ("/transitions", ["<h1>Transitions</h1>", #"data-operation="snapshot""#, "page-drive", "Scheduled (2)"]),
                ("/faults", ["<h1>Faults</h1>", "No fault list yet."]),
                ("/requests", ["<h1>Requests</h1>", "/api/2.0/drives/", "alice@example.com"]),
                ("/upload", ["Upload a disk image", #"data-chunk-size="4194304""#, "bob@example.com"]),
            ]
            for (path, needles) in expectations {
                let page = try await Self.console(env, .get, path)
                #expect(page.code == 200, "\(path)")
                #expect(page.headers[.contentType] == "text/html; charset=utf-8", "\(path)")
                #expect(page.headers[.init("Content-Security-Policy")!]?.contains("default-src 'self'") == true, "\(path)")
                for needle in needles { #expect(page.text.contains(needle), "\(path) lacks \(needle)") }
            }
            // The other account's drive is not on alice's page.
            #expect(!(try await Self.console(env, .get, "/accounts/\(env.alice.user.uuid)").text.contains(">other<")))
            // A drive by uuid alone redirects to its account's page.
            let byUUID = try await Self.console(env, .get, "/drives/\(uuid)")
            #expect(byUUID.code == 303)
            #expect(byUUID.headers[.location] == "/_drivesd/console/accounts/\(env.alice.user.uuid)/drives/\(uuid)")
            // Static assets need no credentials (the login page uses them).
            let css = try await Self.console(env, .get, "/static/console.css", headers: [:])
            #expect(css.code == 200 && css.headers[.contentType] == "text/css; charset=utf-8" && css.text.contains(".status"))
            let js = try await Self.console(env, .get, "/static/console.js", headers: [:])
            #expect(js.code == 200 && js.text.contains("/_drivesd/websocket"))
        }
    }

    @Test("a page about something that is not there is a 404 page; bad filters are 400")
    func missing() async throws {
        try await withDrivesd { env in
            let account = try await Self.console(env, .get, "/accounts/nobody@example.com")
            #expect(account.code == 404 && account.text.contains("No account nobody@example.com"))
            let drive = try await Self.console(env, .get, "/accounts/\(env.alice.user.uuid)/drives/00000000-0000-4000-8000-000000000000")
            #expect(drive.code == 404 && drive.text.contains("<h1>404"))
            #expect(try await Self.console(env, .get, "/drives/00000000-0000-4000-8000-000000000000").code == 404)
            let status = try await Self.console(env, .get, "/accounts/\(env.alice.user.uuid)?status=bogus")
            #expect(status.code == 400 && status.text.contains("No drive status bogus"))
            #expect(try await Self.console(env, .get, "/requests?status=abc").code == 400)
        }
    }

    @Test("account drives filter by name, status and tag, and page")
    func filtersAndPaging() async throws {
        try await withDrivesd(settings: ContentTests.settings) { env in
            var uuids: [String] = []
            for i in 0..<27 { uuids.append(try await env.createDrive(name: "disk-\(i)", size: 8 * 1024 * 1024)) }
            try await env.tick()
            let tag = try await env.request(.post, "/api/2.0/tags/", body: #"{"objects": [{"name": "web", "resources": ["\#(uuids[3])"]}]}"#)
            try #require(tag.code == 201, "\(tag.text)")
            _ = try await env.request(.post, "/api/2.0/drives/\(uuids[5])/action/?do=resize", body: #"{"size": 16777216, "media": "disk", "name": "disk-5"}"#)
            let base = "/accounts/\(env.alice.user.uuid)"
            let first = try await Self.console(env, .get, base)
            #expect(first.text.contains("27 drive(s), page 1 of 2"))
            #expect(first.text.contains(#"rel="next""#) && !first.text.contains(#"rel="prev""#))
            let second = try await Self.console(env, .get, base + "?page=2")
            #expect(second.text.contains("page 2 of 2") && second.text.contains(">disk-26<") && !second.text.contains(">disk-0<"))
            let named = try await Self.console(env, .get, base + "?name=disk-2")
            // disk-2 and disk-20 … disk-26.
            #expect(named.text.contains("8 drive(s)"))
            let resizing = try await Self.console(env, .get, base + "?status=resizing")
            #expect(resizing.text.contains("1 drive(s)") && resizing.text.contains(">disk-5<"))
            let tagged = try await Self.console(env, .get, base + "?tag=web")
            #expect(tagged.text.contains("1 drive(s)") && tagged.text.contains(">disk-3<"))
        }
    }

    @Test("without admin credentials: a browser goes to the login form, a user's or wrong credentials get 401")
    func gate() async throws {
        try await withDrivesd { env in
            let anonymous = try await Self.console(env, .get, "/transitions?x=1", headers: [:])
            #expect(anonymous.code == 303)
            #expect(anonymous.headers[.location] == "/_drivesd/console/login?next=%2F%5Fdrivesd%2Fconsole%2Ftransitions%3Fx%3D1")
            for authorization in [env.alice.authorization, "Basic " + Data("admin:wrong".utf8).base64EncodedString()] {
                let page = try await Self.console(env, .get, "/", headers: [.authorization: authorization])
                #expect(page.code == 401)
                #expect(page.headers[.wwwAuthenticate] == #"Basic realm="drivesd-admin""#)
                let action = try await Self.console(env, .post, "/advance", form: "csrf=x", headers: [.authorization: authorization])
                #expect(action.code == 401)
                // The admin API under the console's credentials gate refuses them too.
                let api = try await env.request(.get, "/_drivesd/pending", headers: [.authorization: authorization])
                #expect(api.code == 401)
            }
            #expect(try await Self.console(env, .post, "/advance", form: "csrf=x", headers: [:]).code == 401)
            // A forged session cookie is no session.
            #expect(try await Self.console(env, .get, "/", headers: [.cookie: "drivesd_console=forged"]).code == 303)
        }
    }

    @Test("login: the form's token must match its cookie, wrong passwords are refused, logout ends the session")
    func loginAndLogout() async throws {
        try await withDrivesd { env in
            let page = try await Self.console(env, .get, "/login", headers: [:])
            let token = try #require(Self.field("csrf", in: page.text))
            let forged = try await Self.console(
                env, .post, "/login", form: "csrf=\(token)&username=admin&password=admin", headers: [.cookie: "drivesd_console_login=other"])
            #expect(forged.code == 403 && forged.text.contains("The form expired"))
            #expect(AuthenticationTests.cookies(forged.headers)["drivesd_console"] == nil)
            let wrong = try await Self.console(
                env, .post, "/login", form: "csrf=\(token)&username=admin&password=nope", headers: [.cookie: "drivesd_console_login=\(token)"])
            #expect(wrong.code == 401 && wrong.text.contains("Wrong username or password"))
            #expect(AuthenticationTests.cookies(wrong.headers)["drivesd_console"] == nil)

            let session = try await Self.logIn(env)
            let cookie: HTTPFields = [.cookie: "drivesd_console=\(session)"]
            let overview = try await Self.console(env, .get, "/", headers: cookie)
            #expect(overview.code == 200 && overview.text.contains("Log out"))
            let csrf = try Self.csrf(overview)
            #expect(csrf.count == 48)
            // Logging out needs the token too.
            #expect(try await Self.console(env, .post, "/logout", form: "csrf=wrong", headers: cookie).code == 403)
            let out = try await Self.console(env, .post, "/logout", form: "csrf=\(csrf)", headers: cookie)
            #expect(out.code == 303 && out.headers[.location] == "/_drivesd/console/login")
            #expect(AuthenticationTests.cookies(out.headers)["drivesd_console"]?.contains("Max-Age=0") == true)
            #expect(try await Self.console(env, .get, "/", headers: cookie).code == 303)
        }
    }

    @Test("every action refuses a missing or wrong CSRF token (session or Basic) and changes nothing")
    func csrfRefusals() async throws {
        try await withDrivesd { env in
            let uuid = try await env.createDrive()
            let session = try await Self.logIn(env)
            let cookie: HTTPFields = [.cookie: "drivesd_console=\(session)"]
            let sessionToken = try Self.csrf(try await Self.console(env, .get, "/", headers: cookie))
            let basicToken = try Self.csrf(try await Self.console(env, .get, "/"))
            #expect(sessionToken != basicToken)
            let actions: [(String, String)] = [
                ("/transitions/create", "mode=manual"), ("/advance", ""), ("/faults", "faults=return-503"),
                ("/drives/\(uuid)/availability", "status=unavailable"),
            ]
            for (path, fields) in actions {
                for (headers, token) in [(cookie, ""), (cookie, "&csrf=\(basicToken)"), (Self.adminHeaders, ""), (Self.adminHeaders, "&csrf=\(sessionToken)")] {
                    let reply = try await Self.console(env, .post, path, form: fields + token, headers: headers)
                    #expect(reply.code == 403, "\(path) \(token)")
                    #expect(reply.text.contains("CSRF token missing or incorrect"))
                }
            }
            #expect(env.api.stores.transitions.mode(.create) == nil)
            #expect(try await env.status(uuid) == "creating")
            #expect(try await env.admin(.get, "faults").json?["objects"]?.arrayValue?.isEmpty == true)
            // The admin API with a session cookie: unsafe methods need X-CSRF-Token.
            let put = try await env.request(
                .put, "/_drivesd/transitions/create", body: #"{"mode": "manual"}"#, authenticated: false, headers: cookie)
            #expect(put.code == 403)
            #expect(env.api.stores.transitions.mode(.create) == nil)
            var withToken = cookie
            withToken[.init("X-CSRF-Token")!] = sessionToken
            let allowed = try await env.request(
                .put, "/_drivesd/transitions/create", body: #"{"mode": "manual"}"#, authenticated: false, headers: withToken)
            #expect(allowed.code == 200)
            #expect(env.api.stores.transitions.mode(.create) == .manual)
            #expect(try await env.request(.get, "/_drivesd/pending", authenticated: false, headers: cookie).code == 200)
        }
    }

    @Test("transitions: set a mode from the page, see held transitions, advance one from the page")
    func holdAndAdvance() async throws {
        try await withDrivesd { env in
            let token = try Self.csrf(try await Self.console(env, .get, "/transitions"))
            let set = try await Self.console(env, .post, "/transitions/create", form: "mode=manual&csrf=\(token)")
            #expect(set.code == 303)
            #expect(set.headers[.location] == "/_drivesd/console/transitions?flash=create%3A%20manual")
            #expect(try await env.admin(.get, "transitions/create").json?["mode"]?.stringValue == "manual")
            let held = try await env.createDrive(name: "held-one")
            let other = try await env.createDrive(name: "held-two")
            try await env.tick()
            let page = try await Self.console(env, .get, "/transitions")
            #expect(page.text.contains("Held (2)") && page.text.contains(#"data-uuid="\#(held)""#))
            let pending = try await env.admin(.get, "pending")
            let rows = pending.objects.filter { $0["uuid"]?.stringValue == held }
            #expect(rows.count == 1 && rows.first?["held"] == .bool(true) && rows.first?["operation"]?.stringValue == "create")
            let advance = try await Self.console(
                env, .post, "/advance", form: "uuid=\(held)&csrf=\(token)&return=%2F_drivesd%2Fconsole%2Ftransitions")
            #expect(advance.code == 303)
            #expect(advance.headers[.location]?.hasSuffix("flash=Released%201%20transition") == true)
            try await env.tick()
            #expect(try await env.status(held) == "unmounted")
            #expect(try await env.status(other) == "creating")
            let after = try await Self.console(env, .get, "/transitions")
            #expect(after.text.contains("Held (1)") && !after.text.contains(#"data-uuid="\#(held)""#))
            // Advance all; a time mode with seconds; a bad mode is refused back on the page.
            #expect(try await Self.console(env, .post, "/advance", form: "csrf=\(token)").code == 303)
            try await env.tick()
            #expect(try await env.status(other) == "unmounted")
            #expect(try await Self.console(env, .post, "/transitions/resize", form: "mode=time&seconds=2.5&csrf=\(token)").code == 303)
            #expect(env.api.stores.transitions.mode(.resize) == .time(seconds: 2.5))
            let bad = try await Self.console(env, .post, "/transitions/resize", form: "mode=time&seconds=-1&csrf=\(token)")
            #expect(bad.code == 303 && bad.headers[.location]?.contains("flash=Refused") == true)
            #expect(env.api.stores.transitions.mode(.resize) == .time(seconds: 2.5))
            #expect(try await Self.console(env, .post, "/transitions/bogus", form: "mode=manual&csrf=\(token)").code == 303)
            #expect(env.api.stores.transitions.modes.count == 2)
        }
    }

    @Test("faults: a list created on the page is the admin API's, and shows which fired")
    func faults() async throws {
        try await withDrivesd { env in
            let token = try Self.csrf(try await Self.console(env, .get, "/faults"))
            let refused = try await Self.console(env, .post, "/faults", form: "faults=return-503%0Abogus&csrf=\(token)")
            #expect(refused.code == 303 && refused.headers[.location]?.contains("Refused") == true)
            #expect(try await env.admin(.get, "faults").json?["objects"]?.arrayValue?.isEmpty == true)
            let created = try await Self.console(env, .post, "/faults", form: "faults=return-503%0D%0Adelay-0s&csrf=\(token)")
            #expect(created.code == 303)
            let sets = try await env.admin(.get, "faults").json?["objects"]?.arrayValue ?? []
            try #require(sets.count == 1)
            let id = try #require(sets[0]["id"]?.stringValue)
            #expect(sets[0]["faults"]?.arrayValue?.compactMap { $0["fault"]?.stringValue } == ["return-503", "delay-0s"])
            let fired = try await env.request(.get, "/api/2.0/drives/", headers: [.init("X-Drivesd-Fault-Id")!: id])
            #expect(fired.code == 503)
            let page = try await Self.console(env, .get, "/faults")
            #expect(page.text.contains(id) && page.text.contains("1 remaining"))
            #expect(page.text.contains("<td>return-503</td><td>yes</td>") && page.text.contains("<td>delay-0s</td><td>no</td>"))
        }
    }

    @Test("states: save (every account or one), load and delete from the page, as the admin API does")
    func states() async throws {
        try await withDrivesd { env in
            let page = try await Self.console(env, .get, "/states")
            #expect(page.code == 200)
            #expect(page.text.contains("<h1>States</h1>") && page.text.contains("No state saved yet."))
            #expect(page.text.contains(#"<option value="\#(env.bob.user.uuid)">bob@example.com</option>"#))
            let token = try Self.csrf(page)
            let drive = try await env.createDrive(name: "kept")
            try await env.tick()
            let saved = try await Self.console(env, .post, "/states", form: "name=base&account=&csrf=\(token)")
            #expect(saved.code == 303 && saved.headers[.location]?.contains("Saved%20base") == true, "\(saved.headers)")
            let bobs = try await Self.console(env, .post, "/states", form: "name=bobs&account=\(env.bob.user.uuid)&csrf=\(token)")
            #expect(bobs.code == 303)
            let twice = try await Self.console(env, .post, "/states", form: "name=base&account=&csrf=\(token)")
            #expect(twice.headers[.location]?.contains("Refused") == true)
            let listed = try await env.admin(.get, "states").json?["objects"]?.arrayValue ?? []
            #expect(listed.compactMap { $0["name"]?.stringValue } == ["base", "bobs"])
            #expect(listed.last?["account"]?["email"]?.stringValue == "bob@example.com")
            let table = try await Self.console(env, .get, "/states")
            #expect(table.text.contains(#"<tr data-name="base"><td><code>base</code></td><td>every account</td>"#))
            #expect(table.text.contains(#"<tr data-name="bobs"><td><code>bobs</code></td><td>bob@example.com</td>"#))

            #expect(try await env.request(.delete, "/api/2.0/drives/\(drive)/").code == 204)
            let loaded = try await Self.console(env, .post, "/states/base/load", form: "csrf=\(token)")
            #expect(loaded.code == 303 && loaded.headers[.location]?.contains("Loaded%20base") == true, "\(loaded.headers)")
            #expect(try await env.status(drive) == "unmounted")
            let deleted = try await Self.console(env, .post, "/states/base/delete", form: "csrf=\(token)")
            #expect(deleted.code == 303)
            #expect(try await env.admin(.get, "states").json?["objects"]?.arrayValue?.count == 1)
            let missing = try await Self.console(env, .post, "/states/base/load", form: "csrf=\(token)")
            #expect(missing.headers[.location]?.contains("Refused") == true)
        }
    }

    @Test("availability from the drive's page")
    func availability() async throws {
        try await withDrivesd { env in
            let uuid = try await env.createDrive()
            try await env.tick()
            let path = "/accounts/\(env.alice.user.uuid)/drives/\(uuid)"
            let page = try await Self.console(env, .get, path)
            #expect(page.text.contains("Mark unavailable"))
            let token = try Self.csrf(page)
            let reply = try await Self.console(env, .post, "/drives/\(uuid)/availability", form: "status=unavailable&csrf=\(token)")
            #expect(reply.code == 303)
            #expect(try await env.status(uuid) == "unavailable")
            #expect(try await Self.console(env, .get, path).text.contains("Mark available"))
        }
    }

    @Test("the request log filters by account, status and path; the console's own requests stay out unless asked")
    func requestLog() async throws {
        try await withDrivesd { env in
            _ = try await env.get("/api/2.0/drives/")
            _ = try await env.get("/api/2.0/drives/00000000-0000-4000-8000-000000000000/")
            _ = try await env.get("/api/2.0/tags/", as: env.bob)
            _ = try await Self.console(env, .get, "/jobs")
            let alice = try await env.admin(.get, "requests?account=alice@example.com")
            #expect(alice.objects.count == 2)
            #expect(alice.objects.allSatisfy { $0["account"]?.stringValue == "alice@example.com" })
            let missing = try await env.admin(.get, "requests?status=4xx&path=/api/")
            #expect(missing.objects.count == 1 && missing.objects.first?["status"] == .int(404))
            let after = try #require(alice.objects.first?["seq"]?.intValue)
            let newer = try await env.admin(.get, "requests?after=\(after)&path=/api/2.0/")
            #expect(newer.objects.count == 2)
            #expect(try await env.admin(.get, "requests?status=4").code == 400)

            let page = try await Self.console(env, .get, "/requests?account=bob@example.com")
            #expect(page.text.contains("/api/2.0/tags/") && !page.text.contains("/api/2.0/drives/"))
            let plain = try await Self.console(env, .get, "/requests")
            #expect(!plain.text.contains("<td>/_drivesd/console/jobs</td>"))
            #expect(try await Self.console(env, .get, "/requests?admin=1").text.contains("<td>/_drivesd/console/jobs</td>"))
            // The overview counts the API's requests per minute, not the console's.
            let overview = try await env.admin(.get, "overview")
            let minutes = overview.json?["requests_per_minute"]?.arrayValue ?? []
            #expect(minutes.count == 10)
            let total = minutes.compactMap { $0["requests"]?.intValue }.reduce(0, +)
            let errors = minutes.compactMap { $0["client_errors"]?.intValue }.reduce(0, +)
            #expect(total == 3 && errors == 1)
        }
    }

    @Test("the admin uploads into and downloads from any account's drive through the API's protocols")
    func adminContent() async throws {
        try await withDrivesd(settings: ContentTests.settings) { env in
            let size = 9_000_000
            let chunk = 4 * 1024 * 1024
            let data = ContentTests.random(size, seed: 5)
            let base = "/_drivesd/accounts/bob@example.com"
            let created = try await env.request(
                .post, base + "/initupload/", body: #"{"name": "by-admin", "size": \#(size), "media": "disk"}"#,
                headers: [.authorization: Self.admin])
            #expect(created.code == 201, "\(created.text)")
            let uuid = try #require(created.first?["uuid"]?.stringValue)
            #expect(try await env.status(uuid, as: env.bob) == "uploading")
            #expect(try await env.get("/api/2.0/drives/\(uuid)/").code == 404)  // bob's, not alice's
            let count = size / chunk
            for n in 1...count {
                let range = (n - 1) * chunk..<(n == count ? size : n * chunk)
                let body = ContentTests().multipart([
                    ("resumableChunkNumber", Array("\(n)".utf8)), ("resumableChunkSize", Array("\(chunk)".utf8)),
                    ("resumableTotalSize", Array("\(size)".utf8)), ("file", Array(data[range])),
                ])
                let sent = try await env.send(
                    .post, base + "/drives/\(uuid)/upload/", bytes: body,
                    headers: [.authorization: Self.admin, .contentType: "multipart/form-data; boundary=b0undary"])
                #expect(sent.status == .ok)
            }
            #expect(try await env.status(uuid, as: env.bob) == "unmounted")
            let download = try await env.send(.get, base + "/drives/\(uuid)/download/", headers: [.authorization: Self.admin])
            #expect(download.status == .ok && download.body == data)
            // The drive's page shows its content map.
            let page = try await Self.console(env, .get, "/accounts/bob@example.com/drives/\(uuid)")
            #expect(page.text.contains(#"<dd id="stored-bytes">8.58 MiB</dd>"#))
            // Only the admin: bob's own credentials, or none, are 401; an unknown account is 404.
            #expect(try await env.send(.get, base + "/drives/\(uuid)/download/", as: env.bob).status == .unauthorized)
            let unknown = try await env.send(
                .get, "/_drivesd/accounts/nobody@example.com/drives/\(uuid)/download/", headers: [.authorization: Self.admin])
            #expect(unknown.status == .notFound)
        }
    }

    @Test("redirects stay inside the console: return, next and Referer naming another site are ignored")
    func noOpenRedirects() async throws {
        try await withDrivesd { env in
            let token = try Self.csrf(try await Self.console(env, .get, "/"))
            for target in ["https://evil.example/", "//evil.example/_drivesd/console/", "/elsewhere"] {
                let reply = try await Self.console(env, .post, "/advance", form: "csrf=\(token)&return=\(Self.encode(target))")
                #expect(reply.code == 303)
                #expect(reply.headers[.location]?.hasPrefix("/_drivesd/console/") == true, "\(target)")
            }
            var headers: HTTPFields = Self.adminHeaders
            headers[.referer] = "https://evil.example/x"
            let viaReferer = try await Self.console(env, .post, "/faults", form: "csrf=\(token)&faults=delay-0s", headers: headers)
            #expect(viaReferer.headers[.location]?.hasPrefix("/_drivesd/console/faults") == true)
            let page = try await Self.console(env, .get, "/login?next=\(Self.encode("https://evil.example/"))", headers: [:])
            #expect(Self.field("next", in: page.text) == "/_drivesd/console/")
        }
    }
}
