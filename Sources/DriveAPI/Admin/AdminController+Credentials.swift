import DriveModel
import DriveStorage
import Foundation
import Hummingbird

/// The admin API's credentials: bearer tokens (as `drivesd token …` does) and passwords.
///
/// - `POST /_drivesd/tokens` `{"email", "expires_in"?}` → 201 `{"token", "id", "email", "user", "created", "expires"}`
/// - `GET /_drivesd/tokens?email=…` → the user's tokens (never the secrets)
/// - `DELETE /_drivesd/tokens/{token or id}` → 204, or 404
/// - `PUT /_drivesd/accounts/{uuid or email}` `{"password"}` → 200 (sessions of the user end)
extension AdminController {
    func registerCredentials(on admin: RouterGroup<DrivesRequestContext>) {
        admin.resource("tokens", get: listTokens, post: createToken)
        admin.resource("tokens/:token", delete: revokeToken)
        admin.resource("accounts/:account", put: setPassword)
    }

    static func tokenJSON(_ info: TokenInfo) -> [String: JSONValue] {
        [
            "id": .string(info.id), "email": .string(info.email), "user": .string(info.userUUID),
            "created": .string(info.createdAt),
            "expires": info.expiresAt.map { .string(Timestamp.string($0)) } ?? .null,
        ]
    }

    @Sendable func createToken(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        let body = try await request.jsonBody(limit: api.settings.bodyLimit)
        guard case .string(let email)? = body?["email"] else { throw CloudSigmaError.validation("email", "This field is required") }
        var expiresIn: TimeInterval?
        switch body?["expires_in"] {
        case nil, .null?: break
        case .int(let seconds)?: expiresIn = TimeInterval(seconds)
        case .double(let seconds)?: expiresIn = seconds
        default: throw CloudSigmaError.validation("expires_in", "expires_in must be a number of seconds")
        }
        do {
            let issued = try await api.stores.accounts.createToken(user: email, expiresIn: expiresIn, now: Date())
            var json = Self.tokenJSON(issued.info)
            json["token"] = .string(issued.token)
            return .json(.object(json), status: .created)
        } catch UserError.noSuchUser(let who) {
            throw CloudSigmaError(.notexist, "No user \(who)")
        } catch UserError.invalidExpiry {
            throw CloudSigmaError.validation("expires_in", UserError.invalidExpiry.description)
        }
    }

    @Sendable func listTokens(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        guard let email = QueryParameters(request.uri)["email"], !email.isEmpty else {
            throw CloudSigmaError.validation("email", "Name the user: ?email=…")
        }
        do {
            return .json(.array(try await api.stores.accounts.tokens(user: email).map { .object(Self.tokenJSON($0)) }))
        } catch UserError.noSuchUser(let who) {
            throw CloudSigmaError(.notexist, "No user \(who)")
        }
    }

    @Sendable func revokeToken(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        let token = try context.parameters.require("token")
        guard try await api.stores.accounts.revokeToken(token) else { throw CloudSigmaError(.notexist, "No such token") }
        api.authenticator.invalidate()
        return Response(status: .noContent)
    }

    @Sendable func setPassword(_ request: Request, context: DrivesRequestContext) async throws -> Response {
        let account = try context.parameters.require("account")
        guard case .string(let password)? = try await request.jsonBody(limit: api.settings.bodyLimit)?["password"] else {
            throw CloudSigmaError.validation("password", "This field is required")
        }
        do {
            let user = try await api.stores.accounts.setPassword(
                user: account, password: password, iterations: api.settings.pbkdf2Iterations)
            api.authenticator.invalidate()
            return .json(.object(["uuid": .string(user.uuid), "email": .string(user.email)]))
        } catch UserError.noSuchUser(let who) {
            throw CloudSigmaError(.notexist, "No user \(who)")
        } catch UserError.emptyPassword {
            throw CloudSigmaError.validation("password", UserError.emptyPassword.description)
        }
    }
}
