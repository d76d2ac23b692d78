import Crypto
import DriveModel
import Foundation
import HTTPTypes
import Hummingbird
import Synchronization

/// Who may use the admin API and the console: HTTP Basic with the admin credentials of the
/// configuration (scripts), or a console session (the login form sets its cookie). A session
/// carries a CSRF token that every state-changing request must repeat: as the `csrf` field of a
/// console form, or in `X-CSRF-Token` on an admin API call. Sessions live in this process's
/// memory: a restart logs the console out (the admin is one configured identity, not an account
/// in the database).
public final class AdminAccess: Sendable {
    /// How a request proved it is the admin.
    enum Grant: Sendable, Equatable {
        case basic
        case session(key: String, csrf: String)
    }

    struct Session {
        var csrf: String
        var expires: Date
    }

    let username: String
    let password: String
    /// How long a console session lasts without use; each use extends it.
    let lifetime: TimeInterval
    let throttle: LoginThrottle
    /// Sessions by the SHA-256 of their key (a memory dump shows no usable cookie).
    let sessions = Mutex<[String: Session]>([:])
    /// The CSRF token of Basic-authenticated forms: a browser that cached Basic credentials
    /// sends them to a forged form too, so the token is asked of them as well.
    let basicCSRF: String

    public static let cookieName = "drivesd_console"
    static let csrfHeader = HTTPField.Name("X-CSRF-Token")!

    init(username: String, password: String, lifetime: TimeInterval = 12 * 3600, throttleBurst: Int = 20) {
        self.username = username
        self.password = password
        self.lifetime = lifetime
        self.throttle = LoginThrottle(burst: throttleBurst)
        self.basicCSRF = Self.randomToken()
    }

    var enabled: Bool { !password.isEmpty }

    /// The admin's grant of a request, nil when it has none. A wrong Basic header is nil even when
    /// a session cookie is also sent (the explicit credential wins, and is wrong).
    func grant(_ headers: HTTPFields, now: Date = Date()) -> Grant? {
        guard enabled else { return nil }
        if let header = headers[.authorization] {
            guard let (user, pass) = Authenticator.parseBasic(header),
                Authenticator.same(user, username) && Authenticator.same(pass, password)
            else { return nil }
            return .basic
        }
        guard let key = Authenticator.cookie(Self.cookieName, in: headers), let csrf = session(key, now: now) else { return nil }
        return .session(key: key, csrf: csrf)
    }

    /// The CSRF token a grant's forms carry.
    func csrfToken(_ grant: Grant) -> String {
        switch grant {
        case .basic: basicCSRF
        case .session(_, let csrf): csrf
        }
    }

    /// Whether `token` is the grant's CSRF token.
    func checkCSRF(_ token: String?, grant: Grant) -> Bool {
        guard let token else { return false }
        return Authenticator.same(token, csrfToken(grant))
    }

    /// Checks the admin credentials of the login form; a new session (key, CSRF token) when they
    /// are right. Failures from one address are throttled like the API's logins.
    func login(username: String, password: String, address: String, now: Date = Date()) throws -> (key: String, csrf: String)? {
        guard enabled else { return nil }
        let throttleKey = "console|" + address
        if let wait = throttle.retryAfter(throttleKey, now: now) {
            throw UnauthorizedError(challenges: [], retryAfter: wait, message: "Too many failed logins: try again in \(wait) s")
        }
        guard Authenticator.same(username, self.username) && Authenticator.same(password, self.password) else {
            throttle.failed(throttleKey, now: now)
            return nil
        }
        throttle.succeeded(throttleKey)
        let key = Self.randomToken()
        let csrf = Self.randomToken()
        sessions.withLock { sessions in
            sessions = sessions.filter { $0.value.expires > now }
            sessions[Self.digest(key)] = Session(csrf: csrf, expires: now.addingTimeInterval(lifetime))
        }
        return (key, csrf)
    }

    /// The CSRF token of a live session (extending it), nil when there is none.
    func session(_ key: String, now: Date = Date()) -> String? {
        let digest = Self.digest(key)
        return sessions.withLock { sessions in
            guard var session = sessions[digest] else { return nil }
            guard session.expires > now else {
                sessions[digest] = nil
                return nil
            }
            session.expires = now.addingTimeInterval(lifetime)
            sessions[digest] = session
            return session.csrf
        }
    }

    func logout(_ key: String) {
        _ = sessions.withLock { $0.removeValue(forKey: Self.digest(key)) }
    }

    /// The `Set-Cookie` value of a session (or, with nil, of its removal).
    static func cookie(_ key: String?) -> String {
        guard let key else { return "\(cookieName)=; Path=/_drivesd; Max-Age=0; HttpOnly; SameSite=Strict" }
        return "\(cookieName)=\(key); Path=/_drivesd; HttpOnly; SameSite=Strict"
    }

    static func digest(_ key: String) -> String {
        Authenticator.hex(SHA256.hash(data: Array(key.utf8)))
    }

    static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return Authenticator.hex((0..<24).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }
}

/// The admin API's gate: Basic with the admin credentials, or a console session whose unsafe
/// requests carry its CSRF token in `X-CSRF-Token`. Never a user's credentials.
struct AdminAuthMiddleware: RouterMiddleware {
    typealias Context = DrivesRequestContext
    let access: AdminAccess

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let grant = access.grant(request.headers) else {
            throw UnauthorizedError(realm: "drivesd-admin")
        }
        if case .session = grant, !Self.isSafe(request.method),
            !access.checkCSRF(request.headers[AdminAccess.csrfHeader], grant: grant)
        {
            throw CloudSigmaError(.permission, "CSRF token missing or incorrect: send the console's token in X-CSRF-Token")
        }
        var context = context
        context.adminGrant = grant
        return try await next(request, context)
    }

    static func isSafe(_ method: HTTPRequest.Method) -> Bool {
        method == .get || method == .head || method == .options
    }
}
