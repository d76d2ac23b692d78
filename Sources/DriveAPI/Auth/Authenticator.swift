import Crypto
import DriveModel
import DriveStorage
import Foundation
import HTTPTypes
import Hummingbird
import Synchronization

/// How a request proved who it is.
public enum AuthMethod: String, Sendable {
    case basic, digest, bearer, session
}

/// A request's verified identity.
public struct Authentication: Sendable {
    public var user: User
    public var method: AuthMethod
    /// The `sessionid` cookie, when the session authenticated the request.
    public var sessionKey: String?
}

/// Verifies every way CloudSigma clients authenticate (contract §4): HTTP Basic, Digest (MD5,
/// `qop=auth`, stateless nonces), bearer tokens, and the `sessionid` cookie with its CSRF token.
///
/// Precedence (§4.6): an `Authorization` header is checked with exactly its scheme and never
/// falls back to cookies; without one, a `sessionid` cookie; otherwise 401 with the Basic and
/// Digest challenges.
///
/// The password hash is deliberately slow, so verified credentials are remembered in a bounded
/// in-memory cache keyed by an HMAC of the credential under a per-process random key (neither
/// the password nor a fast unkeyed hash of it is kept). The cache never outlives a revocation
/// by more than a second: every half second at most, the authenticator reads the store's
/// credential epoch, which moves on every password change and every deletion of a user, session
/// or token, whichever process made it (the command line included), and drops the cache when it
/// moved. Sessions and tokens also carry their own expiry into the cache.
public final class Authenticator: Sendable {
    let accounts: any AccountRepository
    public let realm: String
    let ttl: Duration
    let capacity: Int
    /// Lifetime of a Digest nonce (then `stale=TRUE`).
    let nonceLifetime: TimeInterval
    /// Lifetime of the `async_auth` cookie (for connecting only).
    public let asyncCookieLifetime: TimeInterval
    public let throttle: LoginThrottle
    /// Wall clock (Digest nonces, sessions, tokens, throttling); tests move it.
    let clock: @Sendable () -> Date
    /// HMAC-SHA256 keyed with a per-process random key, its key schedule done once.
    let mac = HMAC<SHA256>(key: SymmetricKey(size: .bits256))
    let state = Mutex(State())
    /// When the credential epoch is next read (uptime nanoseconds): looked at without a lock on
    /// every request, claimed by one request at a time.
    let nextEpochCheck = Atomic<UInt64>(0)

    struct State {
        var cache: [CacheKey: Entry] = [:]
        /// Moves when the cache is dropped: an entry verified before a drop is not inserted after it.
        var generation: UInt64 = 0
        var epoch: Int64?
        var secrets: Secrets?
    }

    struct Secrets {
        let digest: SymmetricKey
        let opaque: String
        let asyncAuth: SymmetricKey
    }

    /// The 256-bit HMAC of a credential.
    struct CacheKey: Hashable {
        let a: UInt64, b: UInt64, c: UInt64, d: UInt64
    }

    struct Entry {
        let user: User
        let expires: ContinuousClock.Instant
        /// A session's CSRF token.
        let csrfToken: String?
    }

    public init(
        accounts: any AccountRepository, realm: String = "users", ttl: Duration = .seconds(300), capacity: Int = 10_000,
        nonceLifetime: TimeInterval = 300, asyncCookieLifetime: TimeInterval = 120, throttle: LoginThrottle = LoginThrottle(),
        clock: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.accounts = accounts
        self.realm = realm
        self.ttl = ttl
        self.capacity = max(1, capacity)
        self.nonceLifetime = nonceLifetime
        self.asyncCookieLifetime = asyncCookieLifetime
        self.throttle = throttle
        self.clock = clock
    }

    // MARK: Requests

    /// Who `request` is, by the precedence of §4.6; throws ``UnauthorizedError`` (401 with the
    /// challenges) or a 403 when a cookie-authenticated unsafe request lacks its CSRF token.
    /// - Parameter address: the client's address, for throttling failed logins.
    public func authenticate(_ request: Request, address: String) async throws -> Authentication {
        await refreshEpoch()
        if let header = request.headers[.authorization] {
            let scheme = header.prefix { $0 != " " }.lowercased()
            switch scheme {
            case "basic":
                // The fast path: a remembered header, not even decoded, while nobody is throttled.
                let engaged = throttle.isEngaged
                if !engaged, let user = cached(header, kind: "basic")?.user { return Authentication(user: user, method: .basic) }
                guard let (email, password) = Self.parseBasic(header) else { throw await unauthorized() }
                // During a back-off even a remembered (right) password is refused: otherwise a
                // guesser would get the right one through the cache of an account in use.
                if engaged {
                    if let retry = throttle.retryAfter(Self.throttleKey(email, address), now: clock()) {
                        throw await unauthorized(retryAfter: retry)
                    }
                    if let user = cached(header, kind: "basic")?.user { return Authentication(user: user, method: .basic) }
                }
                let generation = currentGeneration
                guard let user = try await verifyPassword(email: email, password: password, address: address) else {
                    throw await unauthorized(retryAfter: throttle.retryAfter(Self.throttleKey(email, address), now: clock()))
                }
                remember(header, kind: "basic", user: user, expiresAt: nil, csrf: nil, generation: generation)
                return Authentication(user: user, method: .basic)
            case "digest":
                return Authentication(user: try await digest(header, request: request, address: address), method: .digest)
            case "bearer":
                let token = header.dropFirst(scheme.count).trimmingCharacters(in: .whitespaces)
                if let user = cached(header, kind: "bearer")?.user { return Authentication(user: user, method: .bearer) }
                let generation = currentGeneration
                guard !token.isEmpty, let (user, expires) = try await accounts.tokenUser(token: token, now: clock()) else {
                    throw await unauthorized(bearer: true)
                }
                remember(header, kind: "bearer", user: user, expiresAt: expires, csrf: nil, generation: generation)
                return Authentication(user: user, method: .bearer)
            default:
                throw await unauthorized()
            }
        }
        if let key = Self.cookie("sessionid", in: request.headers), !key.isEmpty {
            let user: User
            let csrf: String
            if let entry = cached(key, kind: "session"), let token = entry.csrfToken {
                (user, csrf) = (entry.user, token)
            } else {
                let generation = currentGeneration
                guard let session = try await accounts.session(key: key, now: clock()) else { throw await unauthorized() }
                remember(key, kind: "session", user: session.user, expiresAt: session.expiresAt, csrf: session.csrfToken, generation: generation)
                (user, csrf) = (session.user, session.csrfToken)
            }
            if !Self.safeMethods.contains(request.method) {
                guard let given = request.headers[.xCSRFToken], Self.same(given, csrf) else {
                    throw CloudSigmaError(.permission, "CSRF verification failed")
                }
            }
            return Authentication(user: user, method: .session, sessionKey: key)
        }
        throw await unauthorized()
    }

    static let safeMethods: Set<HTTPRequest.Method> = [.get, .head, .options, .trace]

    /// Email and password checked against the store, throttled per account and address: after a
    /// burst of failures the account is refused from that address (without checking) until the
    /// back-off passes; the right password works again after it.
    public func verifyPassword(email: String, password: String, address: String) async throws -> User? {
        let key = Self.throttleKey(email, address)
        if throttle.retryAfter(key, now: clock()) != nil { return nil }
        guard let user = try await accounts.verifyUser(email: email, password: password) else {
            throttle.failed(key, now: clock())
            return nil
        }
        throttle.succeeded(key)
        return user
    }

    static func throttleKey(_ email: String, _ address: String) -> String {
        email.lowercased() + "\u{0}" + address
    }

    /// The 401 with the Basic and Digest challenges (two header lines, Basic first, §4.2), and
    /// the Bearer one after a failed token.
    public func unauthorized(stale: Bool = false, bearer: Bool = false, retryAfter: Int? = nil) async -> UnauthorizedError {
        var challenges = ["Basic realm=\"\(realm)\""]
        if let secrets = try? await secrets() {
            var digest = "Digest realm=\"\(realm)\", nonce=\"\(makeNonce(secrets))\", opaque=\"\(secrets.opaque)\", algorithm=\"MD5\", qop=\"auth\""
            if stale { digest += ", stale=TRUE" }
            challenges.append(digest)
        }
        if bearer { challenges.append("Bearer realm=\"\(realm)\", error=\"invalid_token\"") }
        return UnauthorizedError(challenges: challenges, retryAfter: retryAfter)
    }

    // MARK: Digest

    func digest(_ header: String, request: Request, address: String) async throws -> User {
        let secrets = try await secrets()
        let fields = Self.parseDigest(header)
        guard let username = fields["username"], let nonce = fields["nonce"], let uri = fields["uri"],
            let response = fields["response"], let nc = fields["nc"], let cnonce = fields["cnonce"],
            fields["realm"] == realm, fields["qop"]?.lowercased() == "auth",
            fields["algorithm"].map({ $0.uppercased() == "MD5" }) ?? true,
            fields["opaque"] == secrets.opaque
        else { throw await unauthorized() }
        switch checkNonce(nonce, secrets) {
        case .invalid: throw await unauthorized()
        case .stale: throw await unauthorized(stale: true)
        case .valid: break
        }
        let target = request.head.path ?? request.uri.path
        let path = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? target
        guard uri == target || uri == path else { throw await unauthorized() }
        let key = Self.throttleKey(username, address)
        if let retry = throttle.retryAfter(key, now: clock()) { throw await unauthorized(retryAfter: retry) }
        guard let credential = try await accounts.digestCredential(username: username) else {
            throttle.failed(key, now: clock())
            throw await unauthorized(retryAfter: throttle.retryAfter(key, now: clock()))
        }
        let ha2 = Self.md5Hex("\(request.method.rawValue):\(uri)")
        let expected = Self.md5Hex("\(credential.ha1):\(nonce):\(nc):\(cnonce):auth:\(ha2)")
        guard Self.same(expected, response.lowercased()) else {
            throttle.failed(key, now: clock())
            throw await unauthorized(retryAfter: throttle.retryAfter(key, now: clock()))
        }
        throttle.succeeded(key)
        return credential.user
    }

    enum NonceCheck { case valid, stale, invalid }

    /// `<unix time, 2 decimals>:<4 hex>:<HMAC>`: no server state, valid for `nonceLifetime`.
    func makeNonce(_ secrets: Secrets) -> String {
        let stamp = String(format: "%.2f", clock().timeIntervalSince1970)
        let salt = String(format: "%04X", UInt16.random(in: 0...UInt16.max))
        return "\(stamp):\(salt):\(Self.sign("\(stamp):\(salt)", secrets.digest))"
    }

    func checkNonce(_ nonce: String, _ secrets: Secrets) -> NonceCheck {
        let parts = nonce.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 3, let stamp = Double(parts[0]),
            Self.same(String(parts[2]), Self.sign("\(parts[0]):\(parts[1])", secrets.digest))
        else { return .invalid }
        let age = clock().timeIntervalSince1970 - stamp
        return age >= -5 && age <= nonceLifetime ? .valid : .stale
    }

    /// `key="value", key=value, …` → [key: value] (keys lower-cased).
    static func parseDigest(_ header: String) -> [String: String] {
        var fields: [String: String] = [:]
        var rest = Substring(header.drop { $0 != " " })
        while true {
            rest = rest.drop { $0 == " " || $0 == "," }
            guard let equals = rest.firstIndex(of: "=") else { break }
            let key = rest[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            rest = rest[rest.index(after: equals)...].drop { $0 == " " }
            var value = ""
            if rest.first == "\"" {
                rest = rest.dropFirst()
                var escaped = false
                var end = rest.endIndex
                for i in rest.indices {
                    let c = rest[i]
                    if escaped { value.append(c); escaped = false }
                    else if c == "\\" { escaped = true }
                    else if c == "\"" { end = i; break }
                    else { value.append(c) }
                }
                rest = end < rest.endIndex ? rest[rest.index(after: end)...] : rest[rest.endIndex...]
            } else {
                let end = rest.firstIndex(of: ",") ?? rest.endIndex
                value = rest[..<end].trimmingCharacters(in: .whitespaces)
                rest = rest[end...]
            }
            if !key.isEmpty { fields[key] = value }
        }
        return fields
    }

    // MARK: The websocket's cookie

    /// A new `async_auth` value for `user`: `base64(uuid)|issued|HMAC`, valid for connecting
    /// during ``asyncCookieLifetime``. Signed with a key the store keeps, so it survives restarts.
    public func asyncCookie(for user: User) async throws -> String {
        let secrets = try await secrets()
        let stamp = String(Int(clock().timeIntervalSince1970))
        let value = Data(user.uuid.utf8).base64EncodedString() + "|" + stamp
        return value + "|" + Self.sign(value, secrets.asyncAuth)
    }

    /// The user an `async_auth` value names, when it is genuine, unexpired and the user exists.
    public func asyncCookieUser(_ cookie: String) async throws -> User? {
        let secrets = try await secrets()
        let parts = cookie.split(separator: "|", omittingEmptySubsequences: false)
        guard parts.count == 3, let stamp = Double(parts[1]),
            Self.same(String(parts[2]), Self.sign("\(parts[0])|\(parts[1])", secrets.asyncAuth)),
            let data = Data(base64Encoded: String(parts[0])), let uuid = String(data: data, encoding: .utf8)
        else { return nil }
        let age = clock().timeIntervalSince1970 - stamp
        guard age >= -5, age <= asyncCookieLifetime else { return nil }
        return try await accounts.user(uuid)
    }

    // MARK: Cache

    var currentGeneration: UInt64 { state.withLock { $0.generation } }

    func cached(_ credential: String, kind: String) -> Entry? {
        let key = cacheKey(kind, credential)
        let now = ContinuousClock.now
        return state.withLock { state in
            guard let entry = state.cache[key] else { return nil }
            guard entry.expires > now else {
                state.cache[key] = nil
                return nil
            }
            return entry
        }
    }

    func remember(_ credential: String, kind: String, user: User, expiresAt: Date?, csrf: String?, generation: UInt64) {
        let now = ContinuousClock.now
        var expires = now + ttl
        if let expiresAt {
            let left = expiresAt.timeIntervalSince(clock())
            guard left > 0 else { return }
            expires = min(expires, now + .milliseconds(Int64(left * 1000)))
        }
        let key = cacheKey(kind, credential)
        state.withLock { state in
            guard state.generation == generation else { return }
            if state.cache.count >= capacity {
                state.cache = state.cache.filter { $0.value.expires > now }
                if state.cache.count >= capacity { state.cache.removeAll(keepingCapacity: true) }
            }
            state.cache[key] = Entry(user: user, expires: expires, csrfToken: csrf)
        }
    }

    func cacheKey(_ kind: String, _ credential: String) -> CacheKey {
        var mac = self.mac
        var kind = kind
        kind.withUTF8 { mac.update(data: UnsafeRawBufferPointer($0)) }
        withUnsafeBytes(of: UInt8(0)) { mac.update(data: $0) }
        var credential = credential
        credential.withUTF8 { mac.update(data: UnsafeRawBufferPointer($0)) }
        return mac.finalize().withUnsafeBytes { raw in
            CacheKey(
                a: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self), b: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self),
                c: raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self), d: raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
        }
    }

    /// Forgets every cached credential (after credentials changed in this process).
    public func invalidate() {
        state.withLock {
            $0.cache.removeAll()
            $0.generation &+= 1
        }
    }

    /// Drops the cache when the store's credential epoch moved (read at most every 500 ms).
    func refreshEpoch() async {
        let now = DispatchTime.now().uptimeNanoseconds
        let due = nextEpochCheck.load(ordering: .relaxed)
        guard now >= due,
            nextEpochCheck.compareExchange(expected: due, desired: now + 500_000_000, ordering: .relaxed).exchanged,
            let epoch = try? await accounts.credentialEpoch()
        else { return }
        state.withLock { state in
            if state.epoch != epoch {
                if state.epoch != nil {
                    state.cache.removeAll()
                    state.generation &+= 1
                }
                state.epoch = epoch
            }
        }
    }

    func secrets() async throws -> Secrets {
        if let secrets = state.withLock({ $0.secrets }) { return secrets }
        let digest = SymmetricKey(data: try await accounts.secret(named: "digest-nonce"))
        let asyncAuth = SymmetricKey(data: try await accounts.secret(named: "async-auth"))
        let secrets = Secrets(digest: digest, opaque: String(Self.sign("opaque", digest).prefix(40)), asyncAuth: asyncAuth)
        state.withLock { $0.secrets = secrets }
        return secrets
    }

    // MARK: Helpers

    static func sign(_ text: String, _ key: SymmetricKey) -> String {
        hex(HMAC<SHA256>.authenticationCode(for: Array(text.utf8), using: key)).prefix(40).description
    }

    /// The signature of the nonces and cookies: HMAC-SHA256 under `secret`, 40 hex digits.
    public static func sign(_ text: String, secret: [UInt8]) -> String {
        sign(text, SymmetricKey(data: secret))
    }

    static func md5Hex(_ text: String) -> String {
        hex(Insecure.MD5.hash(data: Array(text.utf8)))
    }

    /// Lower-case hex digits of `bytes` (not `String(format:)`, which cost a third of a 401's CPU).
    static func hex<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        Credentials.hex(Array(bytes))
    }

    /// The value of cookie `name` in the request's `Cookie` headers.
    static func cookie(_ name: String, in headers: HTTPFields) -> String? {
        for header in headers[values: .cookie] {
            for pair in header.split(separator: ";") {
                let trimmed = pair.trimmingCharacters(in: .whitespaces)
                guard let equals = trimmed.firstIndex(of: "=") else { continue }
                if trimmed[..<equals] == name {
                    var value = String(trimmed[trimmed.index(after: equals)...])
                    if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
                    return value
                }
            }
        }
        return nil
    }

    /// Constant-time comparison.
    static func same(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var diff = x.count ^ y.count
        for i in 0..<min(x.count, y.count) { diff |= Int(x[i] ^ y[i]) }
        return diff == 0
    }

    /// `Basic base64(email:password)` → (email, password).
    static func parseBasic(_ header: String) -> (String, String)? {
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "basic",
            let data = Data(base64Encoded: String(parts[1]).trimmingCharacters(in: .whitespaces)),
            let decoded = String(data: data, encoding: .utf8),
            let colon = decoded.firstIndex(of: ":")
        else { return nil }
        let email = String(decoded[..<colon])
        let password = String(decoded[decoded.index(after: colon)...])
        guard !email.isEmpty else { return nil }
        return (email, password)
    }
}

extension HTTPField.Name {
    static let xCSRFToken = HTTPField.Name("X-CSRFToken")!
}
