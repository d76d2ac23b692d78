import DriveAPI
import DriveLifecycle
import DriveModel
import DriveStorage
import DriveStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing

/// Every way clients authenticate (contract §4, decision 20): the 401 challenges, Digest,
/// cookie sessions with CSRF, bearer tokens, the precedence between them, throttled logins, and
/// revocations that take effect at once.
@Suite("Authentication: Basic, Digest, sessions, bearer tokens")
struct AuthenticationTests {
    static let login = "/api/2.0/accounts/action/?do=login"

    /// `Authorization: Digest …` answering `challenge` for `method uri`.
    static func digest(
        _ challenge: String, user: String, password: String, method: String = "GET", uri: String,
        nc: String = "00000001", cnonce: String = "0a4f113b", overrides: [String: String] = [:]
    ) -> String {
        var fields = Self.challengeFields(challenge)
        for (key, value) in overrides { fields[key] = value }
        let ha1 = Credentials.md5Hex("\(user):users:\(password)")
        let ha2 = Credentials.md5Hex("\(method):\(uri)")
        let nonce = fields["nonce"] ?? ""
        let response = overrides["response"] ?? Credentials.md5Hex("\(ha1):\(nonce):\(nc):\(cnonce):auth:\(ha2)")
        return #"Digest username="\#(user)", realm="\#(fields["realm"] ?? "")", nonce="\#(nonce)", uri="\#(uri)", "#
            + #"cnonce="\#(cnonce)", nc=\#(nc), qop=auth, response="\#(response)", opaque="\#(fields["opaque"] ?? "")", algorithm="MD5""#
    }

    static func challengeFields(_ challenge: String) -> [String: String] {
        var fields: [String: String] = [:]
        let body = challenge.drop { $0 != " " }
        for part in body.split(separator: ",") {
            let pieces = part.split(separator: "=", maxSplits: 1)
            guard pieces.count == 2 else { continue }
            fields[pieces[0].trimmingCharacters(in: .whitespaces)] = pieces[1].trimmingCharacters(in: .whitespaces)
                .trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        }
        return fields
    }

    /// The Digest challenge of a fresh 401.
    static func digestChallenge(_ env: TestEnv, path: String = "/api/2.0/drives/") async throws -> String {
        let reply = try await env.request(.get, path, authenticated: false)
        try #require(reply.code == 401)
        return try #require(reply.headers[values: .wwwAuthenticate].first { $0.hasPrefix("Digest ") })
    }

    /// `name=value` of the response's `Set-Cookie` lines, with the attributes.
    static func cookies(_ headers: HTTPFields) -> [String: String] {
        var out: [String: String] = [:]
        for line in headers[values: .setCookie] {
            let name = String(line.prefix { $0 != "=" })
            out[name] = line
        }
        return out
    }

    static func cookieValue(_ line: String?) -> String? {
        guard let line else { return nil }
        let pair = line.prefix { $0 != ";" }
        return pair.split(separator: "=", maxSplits: 1).dropFirst().first.map(String.init) ?? ""
    }

    /// Logs `account` in: (sessionid, csrftoken).
    static func logIn(_ env: TestEnv, _ account: Account) async throws -> (session: String, csrf: String) {
        let reply = try await env.request(
            .post, login, body: #"{"username": "\#(account.user.email)", "password": "\#(account.password)"}"#, authenticated: false)
        try #require(reply.code == 200, "\(reply.text)")
        let cookies = Self.cookies(reply.headers)
        return (try #require(cookieValue(cookies["sessionid"])), try #require(cookieValue(cookies["csrftoken"])))
    }

    @Test("every 401 carries two challenge lines, Basic first, then Digest (realm users, MD5, qop auth, opaque)")
    func challenges() async throws {
        try await withDrivesd { env in
            let reply = try await env.request(.get, "/api/2.0/drives/", authenticated: false)
            #expect(reply.code == 401)
            #expect(reply.error.type == "permission")
            let lines = reply.headers[values: .wwwAuthenticate]
            #expect(lines.count == 2)
            #expect(lines.first == #"Basic realm="users""#)
            let digest = Self.challengeFields(lines.last ?? "")
            #expect(lines.last?.hasPrefix("Digest ") == true)
            #expect(digest["realm"] == "users")
            #expect(digest["algorithm"] == "MD5")
            #expect(digest["qop"] == "auth")
            #expect(digest["opaque"]?.isEmpty == false)
            #expect(digest["stale"] == nil)
            // The nonce is `<time>:<4 hex>:<signature>`, and each challenge gets a fresh one.
            let nonce = try #require(digest["nonce"])
            #expect(nonce.split(separator: ":").count == 3)
            #expect(try #require(Double(nonce.split(separator: ":")[0])) > Date().timeIntervalSince1970 - 60)
            let again = Self.challengeFields(try await Self.digestChallenge(env))
            #expect(again["nonce"] != nonce)
            #expect(again["opaque"] == digest["opaque"])
            // A bearer failure adds the Bearer challenge.
            let bearer = try await env.request(.get, "/api/2.0/drives/", headers: [.authorization: "Bearer nope"])
            #expect(bearer.code == 401)
            #expect(bearer.headers[values: .wwwAuthenticate].last == #"Bearer realm="users", error="invalid_token""#)
        }
    }

    @Test("Digest: right answers pass, with the uri as sent and the name in any case; wrong ones are 401")
    func digestAuth() async throws {
        try await withDrivesd { env in
            let mine = try await env.createDrive(name: "mine")
            let challenge = try await Self.digestChallenge(env)
            let alice = env.alice.user.email
            let path = "/api/2.0/drives/?limit=5"
            let good = try await env.request(
                .get, path, headers: [.authorization: Self.digest(challenge, user: alice, password: "alice-secret", uri: path)])
            #expect(good.code == 200)
            #expect(good.objects.compactMap { $0["uuid"]?.stringValue } == [mine])
            // The same nonce serves later requests (nc grows), and the path without the query works.
            let pathOnly = try await env.request(
                .get, path,
                headers: [.authorization: Self.digest(challenge, user: alice, password: "alice-secret", uri: "/api/2.0/drives/", nc: "00000002")])
            #expect(pathOnly.code == 200)
            // A write with Digest: the method is part of the answer.
            let body = #"{"objects": [{"name": "by-digest", "size": 1073741824, "media": "disk"}]}"#
            let post = try await env.request(
                .post, "/api/2.0/drives/", body: body,
                headers: [.authorization: Self.digest(challenge, user: alice, password: "alice-secret", method: "POST", uri: "/api/2.0/drives/")])
            #expect(post.code == 201)
            let replayedAsPut = try await env.request(
                .post, "/api/2.0/drives/", body: body,
                headers: [.authorization: Self.digest(challenge, user: alice, password: "alice-secret", method: "GET", uri: "/api/2.0/drives/")])
            #expect(replayedAsPut.code == 401)
            for (why, header) in [
                ("wrong password", Self.digest(challenge, user: alice, password: "nope", uri: path)),
                ("unknown user", Self.digest(challenge, user: "mallory@example.com", password: "x", uri: path)),
                ("another uri", Self.digest(challenge, user: alice, password: "alice-secret", uri: "/api/2.0/servers/")),
                ("forged nonce", Self.digest(challenge, user: alice, password: "alice-secret", uri: path, overrides: ["nonce": "1.00:ABCD:0000"])),
                ("wrong opaque", Self.digest(challenge, user: alice, password: "alice-secret", uri: path, overrides: ["opaque": "x"])),
                ("wrong realm", Self.digest(challenge, user: alice, password: "alice-secret", uri: path, overrides: ["realm": "admin"])),
                ("no qop", Self.digest(challenge, user: alice, password: "alice-secret", uri: path).replacingOccurrences(of: "qop=auth, ", with: "")),
            ] {
                let reply = try await env.request(.get, path, headers: [.authorization: header])
                #expect(reply.code == 401, "\(why)")
                #expect(reply.headers[values: .wwwAuthenticate].count == 2, "\(why)")
                #expect(reply.headers[values: .wwwAuthenticate].last?.contains("stale") == false, "\(why)")
            }
        }
    }

    @Test("Digest: an expired nonce is 401 with stale=TRUE, and the fresh challenge works")
    func staleNonce() async throws {
        try await withDrivesd { env in
            let secret = try await env.api.stores.accounts.secret(named: "digest-nonce")
            let stamp = String(format: "%.2f", Date().timeIntervalSince1970 - 301)
            let signature = Authenticator.sign("\(stamp):BEEF", secret: secret)
            let old = "\(stamp):BEEF:\(signature)"
            let challenge = try await Self.digestChallenge(env)
            let reply = try await env.request(
                .get, "/api/2.0/drives/",
                headers: [.authorization: Self.digest(challenge, user: env.alice.user.email, password: "alice-secret", uri: "/api/2.0/drives/", overrides: ["nonce": old])])
            #expect(reply.code == 401)
            let retry = try #require(reply.headers[values: .wwwAuthenticate].first { $0.hasPrefix("Digest ") })
            #expect(retry.hasSuffix("stale=TRUE"))
            let fresh = try await env.request(
                .get, "/api/2.0/drives/",
                headers: [.authorization: Self.digest(retry, user: env.alice.user.email, password: "alice-secret", uri: "/api/2.0/drives/")])
            #expect(fresh.code == 200)
        }
    }

    @Test("sessions: login sets the cookies, CSRF guards unsafe methods, logout ends the session")
    func sessions() async throws {
        try await withDrivesd { env in
            let reply = try await env.request(
                .post, Self.login, body: #"{"username": "alice@example.com", "password": "alice-secret"}"#, authenticated: false)
            #expect(reply.code == 200)
            #expect(reply.json == .object(["uuid": .string(env.alice.user.uuid)]))
            let cookies = Self.cookies(reply.headers)
            let sessionLine = try #require(cookies["sessionid"])
            let csrfLine = try #require(cookies["csrftoken"])
            #expect(sessionLine.contains("; HttpOnly"))
            #expect(sessionLine.contains("Max-Age=1209600"))
            #expect(sessionLine.contains("Path=/"))
            #expect(csrfLine.contains("Max-Age=31449600"))
            #expect(!csrfLine.contains("HttpOnly"))
            #expect(!sessionLine.lowercased().contains("secure") && !csrfLine.lowercased().contains("secure"))
            let session = try #require(Self.cookieValue(sessionLine))
            let csrf = try #require(Self.cookieValue(csrfLine))
            #expect(session.count >= 20 && csrf.count >= 32)
            let cookie = "sessionid=\(session); csrftoken=\(csrf)"

            let list = try await env.request(.get, "/api/2.0/drives/", authenticated: false, headers: [.cookie: cookie])
            #expect(list.code == 200)
            let body = #"{"objects": [{"name": "by-session", "size": 1073741824, "media": "disk"}]}"#
            let noToken = try await env.request(.post, "/api/2.0/drives/", body: body, authenticated: false, headers: [.cookie: cookie])
            #expect(noToken.code == 403)
            #expect(noToken.error.message == "CSRF verification failed")
            var wrong = HTTPFields()
            wrong[.cookie] = cookie
            wrong[HTTPField.Name("X-CSRFToken")!] = String(csrf.reversed())
            #expect(try await env.request(.post, "/api/2.0/drives/", body: body, authenticated: false, headers: wrong).code == 403)
            #expect(try await env.get("/api/2.0/drives/").totalCount == 0, "refused writes change nothing")
            var good = HTTPFields()
            good[.cookie] = cookie
            good[HTTPField.Name("X-CSRFToken")!] = csrf
            let created = try await env.request(.post, "/api/2.0/drives/", body: body, authenticated: false, headers: good)
            #expect(created.code == 201)
            #expect(try await env.get("/api/2.0/drives/").totalCount == 1)
            // Requests authenticated by a header never need the token.
            #expect(try await env.request(.post, "/api/2.0/drives/", body: body).code == 201)

            let check = try await env.request(.post, "/api/2.0/accounts/action/?do=check_login", body: "{}", authenticated: false, headers: good)
            #expect(check.code == 200)
            #expect(check.json == .object([:]))
            let withUUID = try await env.request(
                .post, "/api/2.0/accounts/action/?do=check_login_with_return_uuid", body: "{}", authenticated: false, headers: good)
            #expect(withUUID.json?["uuid"]?.stringValue == env.alice.user.uuid)

            let logout = try await env.request(.post, "/api/2.0/accounts/action/?do=logout", body: "{}", authenticated: false, headers: good)
            #expect(logout.code == 200)
            #expect(Self.cookies(logout.headers)["sessionid"]?.contains("Max-Age=0") == true)
            let replayed = try await env.request(.get, "/api/2.0/drives/", authenticated: false, headers: [.cookie: cookie])
            #expect(replayed.code == 401)
            #expect(try await env.request(.post, "/api/2.0/accounts/action/?do=check_login", body: "{}", authenticated: false, headers: good).code == 401)
        }
    }

    @Test("login refusals: wrong password 401 with the challenges, missing fields 400, unknown action 400")
    func loginRefusals() async throws {
        try await withDrivesd { env in
            let wrong = try await env.request(
                .post, Self.login, body: #"{"username": "alice@example.com", "password": "nope"}"#, authenticated: false)
            #expect(wrong.code == 401)
            #expect(wrong.headers[values: .wwwAuthenticate].count == 2)
            #expect(wrong.headers[values: .setCookie].isEmpty)
            for (body, point) in [
                (#"{"password": "x"}"#, "username"), (#"{"username": "alice@example.com"}"#, "password"),
                (#"{"username": 5, "password": "x"}"#, "username"), (#"{"username": "alice@example.com", "password": null}"#, "password"),
            ] {
                let reply = try await env.request(.post, Self.login, body: body, authenticated: false)
                #expect(reply.code == 400, "\(body)")
                #expect(reply.error.point == point, "\(body)")
            }
            #expect(try await env.request(.post, Self.login, body: "[]", authenticated: false).code == 400)
            #expect(try await env.request(.post, Self.login, body: "{", authenticated: false).code == 400)
            let unknown = try await env.request(.post, "/api/2.0/accounts/action/?do=dance", body: "{}")
            #expect(unknown.code == 400)
            #expect(unknown.error.point == "do")
            #expect(try await env.request(.get, Self.login, authenticated: false).code == 405)
            // Actions other than login need credentials.
            #expect(try await env.request(.post, "/api/2.0/accounts/action/?do=check_login", body: "{}", authenticated: false).code == 401)
            #expect(try await env.request(.post, "/api/2.0/accounts/action/?do=authenticate_asynchronous", body: "{}", authenticated: false).code == 401)
            let async = try await env.request(.post, "/api/2.0/accounts/action/?do=authenticate_asynchronous", body: "{}")
            #expect(async.code == 200)
            #expect(async.json == .object([:]))
            let line = try #require(Self.cookies(async.headers)["async_auth"])
            #expect(line.contains("Max-Age=120") && line.contains("Path=/"))
        }
    }

    @Test("precedence: an Authorization header is used alone (no fallback to the cookie); a cookie sees its own account")
    func precedence() async throws {
        try await withDrivesd { env in
            let bobDrive = try await env.createDrive(name: "bob's", as: env.bob)
            let (session, csrf) = try await Self.logIn(env, env.bob)
            let cookie = "sessionid=\(session); csrftoken=\(csrf)"
            let wrong = "Basic " + Data("alice@example.com:nope".utf8).base64EncodedString()
            let mixed = try await env.request(.get, "/api/2.0/drives/", authenticated: false, headers: [.cookie: cookie, .authorization: wrong])
            #expect(mixed.code == 401)
            // A good header wins over the cookie: Alice's (empty) list, not Bob's.
            let headerWins = try await env.request(.get, "/api/2.0/drives/", headers: [.cookie: cookie])
            #expect(headerWins.totalCount == 0)
            let bobs = try await env.request(.get, "/api/2.0/drives/", authenticated: false, headers: [.cookie: cookie])
            #expect(bobs.objects.compactMap { $0["uuid"]?.stringValue } == [bobDrive])
            // A made-up session is 401; an unknown scheme too.
            #expect(try await env.request(.get, "/api/2.0/drives/", authenticated: false, headers: [.cookie: "sessionid=forged"]).code == 401)
            #expect(try await env.request(.get, "/api/2.0/drives/", headers: [.authorization: "Negotiate abc"]).code == 401)
            // Neither a session nor a user's token opens the admin API.
            let token = try await env.api.stores.accounts.createToken(user: env.alice.user.email, expiresIn: nil, now: Date())
            #expect(try await env.request(.get, "/_drivesd/metrics", headers: [.authorization: "Bearer \(token.token)"]).code == 401)
            #expect(try await env.request(.get, "/_drivesd/metrics", authenticated: false, headers: [.cookie: cookie]).code == 401)
        }
    }

    @Test("bearer tokens: issued, listed without secrets, revoked at once, expired; admin API and stored hashed")
    func bearerTokens() async throws {
        try await withDrivesd { env in
            let admin: HTTPFields = [.authorization: TestEnv.adminAuthorization]
            let made = try await env.request(
                .post, "/_drivesd/tokens", body: #"{"email": "alice@example.com"}"#, headers: admin)
            #expect(made.code == 201)
            let token = try #require(made.json?["token"]?.stringValue)
            let id = try #require(made.json?["id"]?.stringValue)
            #expect(made.json?["expires"] == .null)
            let bearer: HTTPFields = [.authorization: "Bearer \(token)"]
            let mine = try await env.createDrive(name: "mine")
            try await env.tick()
            let list = try await env.request(.get, "/api/2.0/drives/", headers: bearer)
            #expect(list.code == 200)
            #expect(list.objects.compactMap { $0["uuid"]?.stringValue } == [mine])
            // Unsafe methods need no CSRF token with a bearer token.
            #expect(try await env.request(.delete, "/api/2.0/drives/\(mine)/", headers: bearer).code == 204)

            let listed = try await env.request(.get, "/_drivesd/tokens?email=alice@example.com", headers: admin)
            #expect(listed.code == 200)
            #expect(listed.json?.arrayValue?.count == 1)
            #expect(listed.json?.arrayValue?.first?["id"]?.stringValue == id)
            #expect(!listed.text.contains(token), "never the secret")
            // Stored hashed: the secret is nowhere in the database file.
            #expect(try await env.api.stores.accounts.tokens(user: env.alice.user.uuid).map(\.id) == [id])

            #expect(try await env.request(.delete, "/_drivesd/tokens/\(id)", headers: admin).code == 204)
            let revoked = try await env.request(.get, "/api/2.0/drives/", headers: bearer)
            #expect(revoked.code == 401)
            #expect(revoked.headers[values: .wwwAuthenticate].last == #"Bearer realm="users", error="invalid_token""#)
            #expect(try await env.request(.delete, "/_drivesd/tokens/\(id)", headers: admin).code == 404)

            // Three seconds: the first use must fall inside them on a loaded 2-core machine.
            let short = try await env.request(.post, "/_drivesd/tokens", body: #"{"email": "bob@example.com", "expires_in": 3}"#, headers: admin)
            let shortToken = try #require(short.json?["token"]?.stringValue)
            #expect(try await env.request(.get, "/api/2.0/drives/", headers: [.authorization: "Bearer \(shortToken)"]).code == 200)
            try await Task.sleep(for: .milliseconds(3200))
            #expect(try await env.request(.get, "/api/2.0/drives/", headers: [.authorization: "Bearer \(shortToken)"]).code == 401)

            #expect(try await env.request(.post, "/_drivesd/tokens", body: #"{"email": "nobody@example.com"}"#, headers: admin).code == 404)
            #expect(try await env.request(.post, "/_drivesd/tokens", body: #"{"email": "alice@example.com", "expires_in": -5}"#, headers: admin).code == 400)
            #expect(try await env.request(.post, "/_drivesd/tokens", body: #"{"email": "alice@example.com", "expires_in": "soon"}"#, headers: admin).code == 400)
            #expect(try await env.request(.post, "/_drivesd/tokens", body: #"{"email": "alice@example.com"}"#).code == 401)
        }
    }

    @Test("revocations by another process reach the cache within a second: token, session, password")
    func revokedElsewhere() async throws {
        let path = TestDatabase.temporaryPath()
        defer { TestDatabase.remove(path) }
        try await withDrivesd(path: path) { env in
            let token = try await env.api.stores.accounts.createToken(user: env.alice.user.email, expiresIn: nil, now: Date()).token
            let (session, _) = try await Self.logIn(env, env.bob)
            let bearer: HTTPFields = [.authorization: "Bearer \(token)"]
            let cookie: HTTPFields = [.cookie: "sessionid=\(session)"]
            // Cached now.
            #expect(try await env.request(.get, "/api/2.0/drives/", headers: bearer).code == 200)
            #expect(try await env.request(.get, "/api/2.0/drives/", authenticated: false, headers: cookie).code == 200)
            #expect(try await env.get("/api/2.0/drives/", as: env.bob).code == 200)

            // Another process (a second connection to the database, as the command line is).
            let (other, close) = try await TestBackend.otherProcess(path: path)
            #expect(try await other.revokeToken(token))
            #expect(try await other.deleteSession(key: session))
            try await other.setPassword(user: env.bob.user.email, password: "bob-new", iterations: 1000)
            try await close()

            let deadline = ContinuousClock.now + .seconds(1)
            try await Task.sleep(until: deadline)
            #expect(try await env.request(.get, "/api/2.0/drives/", headers: bearer).code == 401)
            #expect(try await env.request(.get, "/api/2.0/drives/", authenticated: false, headers: cookie).code == 401)
            #expect(try await env.get("/api/2.0/drives/", as: env.bob).code == 401)
            let newBob = Account(user: env.bob.user, password: "bob-new")
            #expect(try await env.get("/api/2.0/drives/", as: newBob).code == 200)
            // Alice's Basic credentials were not revoked.
            #expect(try await env.get("/api/2.0/drives/").code == 200)
        }
    }

    @Test("a password change through the admin API ends the old password and the sessions, and sets the Digest HA1")
    func passwordChange() async throws {
        try await withDrivesd { env in
            let (session, _) = try await Self.logIn(env, env.alice)
            #expect(try await env.get("/api/2.0/drives/").code == 200)
            let admin: HTTPFields = [.authorization: TestEnv.adminAuthorization]
            let changed = try await env.request(.put, "/_drivesd/accounts/alice@example.com", body: #"{"password": "fresh"}"#, headers: admin)
            #expect(changed.code == 200)
            #expect(try await env.get("/api/2.0/drives/").code == 401)
            #expect(try await env.request(.get, "/api/2.0/drives/", authenticated: false, headers: [.cookie: "sessionid=\(session)"]).code == 401)
            let fresh = Account(user: env.alice.user, password: "fresh")
            #expect(try await env.get("/api/2.0/drives/", as: fresh).code == 200)
            let uri = "/api/2.0/drives/"
            let digest = try await env.request(
                .get, uri, authenticated: false,
                headers: [.authorization: Self.digest(try await Self.digestChallenge(env), user: env.alice.user.email, password: "fresh", uri: uri)])
            #expect(digest.code == 200)
            #expect(try await env.request(.put, "/_drivesd/accounts/nobody@example.com", body: #"{"password": "x"}"#, headers: admin).code == 404)
            #expect(try await env.request(.put, "/_drivesd/accounts/alice@example.com", body: #"{"password": ""}"#, headers: admin).code == 400)
        }
    }

    @Test("a burst of wrong passwords is refused for a back-off, per account and address; the right one works after it")
    func throttling() async throws {
        var settings = APISettings(durations: OperationDurations.stepped)
        settings.loginThrottleBurst = 5
        // The back-off is 1 s of this clock, moved by the test: a loaded machine cannot let it
        // run out between two requests.
        let now = Mutex(Date())
        settings.authClock = { now.withLock { $0 } }
        try await withDrivesd(settings: settings) { env in
            // Alice's right header is in the credential cache: it must not bypass the back-off.
            #expect(try await env.get("/api/2.0/drives/", as: env.alice).code == 200)
            let wrong = Account(user: env.alice.user, password: "guess")
            for _ in 0..<5 { #expect(try await env.get("/api/2.0/drives/", as: wrong).code == 401) }
            let refused = try await env.get("/api/2.0/drives/", as: env.alice)
            #expect(refused.code == 401, "the right password is not even checked during the back-off")
            #expect(refused.headers[.retryAfter] == "1")
            #expect(refused.error.message?.contains("Too many failed logins") == true)
            let sessionLogin = try await env.request(
                .post, Self.login, body: #"{"username": "alice@example.com", "password": "alice-secret"}"#, authenticated: false)
            #expect(sessionLogin.code == 401)
            // Another account is not affected.
            #expect(try await env.get("/api/2.0/drives/", as: env.bob).code == 200)
            now.withLock { $0 = $0.addingTimeInterval(0.9) }
            #expect(try await env.get("/api/2.0/drives/", as: env.alice).code == 401)
            now.withLock { $0 = $0.addingTimeInterval(0.2) }
            #expect(try await env.get("/api/2.0/drives/", as: env.alice).code == 200)
        }
    }

    @Test("the throttle's back-off doubles, is per key, and a success or a quiet window clears it; burst 0 is off")
    func throttleMachine() {
        let off = LoginThrottle(burst: 0)
        for _ in 0..<100 { off.failed("x", now: Date()) }
        #expect(off.retryAfter("x", now: Date()) == nil)
        #expect(!off.isEngaged)
        let throttle = LoginThrottle(burst: 3, window: 60, maximumBackoff: 8)
        let t0 = Date(timeIntervalSince1970: 1_000_000)
        #expect(throttle.retryAfter("a", now: t0) == nil)
        throttle.failed("a", now: t0)
        throttle.failed("a", now: t0)
        #expect(throttle.retryAfter("a", now: t0) == nil)
        throttle.failed("a", now: t0)
        #expect(throttle.retryAfter("a", now: t0) == 1)
        #expect(throttle.retryAfter("b", now: t0) == nil)
        #expect(throttle.retryAfter("a", now: t0 + 1.01) == nil)
        throttle.failed("a", now: t0 + 2)
        #expect(throttle.retryAfter("a", now: t0 + 2) == 2)
        for i in 0..<10 { throttle.failed("a", now: t0 + 3 + Double(i)) }
        #expect(throttle.retryAfter("a", now: t0 + 12) == 8, "capped")
        #expect(throttle.retryAfter("a", now: t0 + 12 + 61) == nil, "a quiet window clears it")
        throttle.failed("c", now: t0)
        throttle.failed("c", now: t0)
        throttle.failed("c", now: t0)
        throttle.succeeded("c")
        #expect(throttle.retryAfter("c", now: t0) == nil)
    }

    @Test("sessions survive a restart; expired ones do not work")
    func sessionsPersist() async throws {
        let path = TestDatabase.temporaryPath()
        defer { TestDatabase.remove(path) }
        var saved: (String, String)?
        try await withDrivesd(path: path) { env in
            let s = try await Self.logIn(env, env.alice)
            await SessionBox.shared.set(s)
        }
        saved = await SessionBox.shared.value
        let (session, csrf) = try #require(saved)
        try await withDrivesd(path: path) { env in
            let reply = try await env.request(.get, "/api/2.0/drives/", authenticated: false, headers: [.cookie: "sessionid=\(session); csrftoken=\(csrf)"])
            #expect(reply.code == 200)
            let expired = try await env.api.stores.accounts.createSession(
                userUUID: env.alice.user.uuid, lifetime: -1, now: Date())
            #expect(try await env.request(.get, "/api/2.0/drives/", authenticated: false, headers: [.cookie: "sessionid=\(expired.key)"]).code == 401)
        }
    }
}

/// Carries a value out of a `@Sendable` test body.
actor SessionBox {
    static let shared = SessionBox()
    var value: (String, String)?
    func set(_ v: (String, String)) { value = v }
}
