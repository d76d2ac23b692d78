import DriveModel
import DriveStorage
import Foundation
import HTTPTypes
import Hummingbird

/// `POST /accounts/action/?do=…` (contract §3.1 and §4.4): cookie sessions (`login`, `logout`,
/// `check_login`, `check_login_with_return_uuid`) and the websocket's connection cookie
/// (`authenticate_asynchronous`). Registered outside the authentication middleware, since
/// `login` needs none; every other action authenticates as any API request does.
struct AccountsController {
    let authenticator: Authenticator
    let accounts: any AccountRepository
    let settings: APISettings

    /// 14 days, as CloudSigma's `sessionid` (Max-Age=1209600).
    static let sessionLifetime: TimeInterval = 1_209_600
    /// One year, as CloudSigma's `csrftoken` (Max-Age=31449600).
    static let csrfCookieLifetime: TimeInterval = 31_449_600

    func register(on group: RouterGroup<DrivesRequestContext>) {
        group.resource("accounts/action", post: action)
    }

    @Sendable func action(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        let action = QueryParameters(request.uri)["do"] ?? ""
        switch action {
        case "login":
            return try await login(request, context: context)
        case "logout", "check_login", "check_login_with_return_uuid", "authenticate_asynchronous":
            let authentication = try await authenticator.authenticate(request, address: context.clientAddress)
            _ = try await request.jsonBody(limit: settings.bodyLimit)
            switch action {
            case "logout":
                var response = Response.json(.object([:]))
                if let key = authentication.sessionKey {
                    try await accounts.deleteSession(key: key)
                    authenticator.invalidate()
                }
                response.headers.append(HTTPField(name: .setCookie, value: Self.cookie("sessionid", "", maxAge: 0, httpOnly: true)))
                return response
            case "check_login":
                return .json(.object([:]))
            case "check_login_with_return_uuid":
                return .json(.object(["uuid": .string(authentication.user.uuid)]))
            default:
                let value = try await authenticator.asyncCookie(for: authentication.user)
                var response = Response.json(.object([:]))
                response.headers.append(
                    HTTPField(
                        name: .setCookie,
                        value: Self.cookie("async_auth", value, maxAge: Int(authenticator.asyncCookieLifetime), httpOnly: false)))
                return response
            }
        case "":
            throw CloudSigmaError.validation("do", "The action to perform is missing: ?do=login, logout, check_login or authenticate_asynchronous")
        default:
            throw CloudSigmaError.validation("do", "Unknown action \(action)")
        }
    }

    /// `{"username", "password"}` → 200 `{"uuid"}` with the `sessionid` and `csrftoken` cookies.
    func login(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        guard case .object(let body)? = try await request.jsonBody(limit: settings.bodyLimit) else {
            throw CloudSigmaError.validation(nil, "Send a JSON object with username and password")
        }
        guard case .string(let username)? = body["username"], !username.isEmpty else {
            throw CloudSigmaError.validation("username", "username is required (a string: the account's email)")
        }
        guard case .string(let password)? = body["password"] else {
            throw CloudSigmaError.validation("password", "password is required (a string)")
        }
        let address = context.clientAddress
        guard let user = try await authenticator.verifyPassword(email: username, password: password, address: address) else {
            throw await authenticator.unauthorized(
                retryAfter: authenticator.throttle.retryAfter(Authenticator.throttleKey(username, address), now: authenticator.clock()))
        }
        let session = try await accounts.createSession(
            userUUID: user.uuid, lifetime: Self.sessionLifetime, now: authenticator.clock())
        var response = Response.json(.object(["uuid": .string(user.uuid)]))
        response.headers.append(
            HTTPField(name: .setCookie, value: Self.cookie("csrftoken", session.csrfToken, maxAge: Int(Self.csrfCookieLifetime), httpOnly: false)))
        response.headers.append(
            HTTPField(name: .setCookie, value: Self.cookie("sessionid", session.key, maxAge: Int(Self.sessionLifetime), httpOnly: true)))
        return response
    }

    /// A `Set-Cookie` value: `Path=/` (the websocket is outside `/api/2.0/`), no `Domain`, and no
    /// `Secure` (drivesd serves plain HTTP; clients would drop a secure cookie).
    static func cookie(_ name: String, _ value: String, maxAge: Int, httpOnly: Bool) -> String {
        let expires = Date().addingTimeInterval(TimeInterval(maxAge))
        var text = "\(name)=\(value); expires=\(httpDate(expires)); Max-Age=\(maxAge); Path=/"
        if httpOnly { text += "; HttpOnly" }
        return text
    }

    /// `Thu, 20-Dec-2012 14:02:32 GMT`, the cookie date format.
    static func httpDate(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd-MMM-yyyy HH:mm:ss 'GMT'"
        return formatter.string(from: date)
    }
}
