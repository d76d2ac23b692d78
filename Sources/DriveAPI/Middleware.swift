import DriveModel
import DriveStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging

/// Outermost middleware: gives every response an `X-Request-ID`, renders every error as the
/// CloudSigma error array, and logs one line per request.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = DrivesRequestContext
    let realm: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async -> Response {
        let requestID = Self.requestID(request)
        let start = ContinuousClock.now
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            response = render(error, request: request, context: context)
        }
        response.headers[.xRequestID] = requestID
        let elapsed = ContinuousClock.now - start
        context.logger.info(
            "\(request.method) \(request.uri.path) \(response.status.code)",
            metadata: [
                "request_id": "\(requestID)",
                "duration_ms": "\(Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000)",
            ])
        return response
    }

    static func requestID(_ request: Request) -> String {
        if let given = request.headers[.xRequestID], !given.isEmpty, given.utf8.count <= 128,
            given.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F })
        {
            return given
        }
        return UUID().uuidString.lowercased()
    }

    func render(_ error: any Error, request: Request, context: Context) -> Response {
        switch error {
        case let error as CloudSigmaError:
            return .error(error)
        case let error as UnauthorizedError:
            var response = Response.json(CloudSigmaError.unauthorized.body, status: .unauthorized)
            response.headers[.wwwAuthenticate] = "Basic realm=\"\(error.realm)\""
            return response
        case let error as StoreError:
            if case .conflict = error {} else {
                context.logger.error("store failure", metadata: ["error": "\(error)"])
            }
            return .error(error.apiError)
        case let error as HTTPError:
            switch error.status {
            case .notFound:
                return .error(CloudSigmaError(.notexist, "The requested resource \(request.uri.path) does not exist"))
            case .contentTooLarge:
                return .error(CloudSigmaError(.tooLarge, "The request body is larger than the limit of this server"))
            case .methodNotAllowed:
                return .error(CloudSigmaError(.method, "Method \(request.method) is not allowed here"))
            default:
                let kind: CloudSigmaError.Kind = error.status.code >= 500 ? .backend : .validation
                var rendered = Response.error(CloudSigmaError(kind, error.body ?? error.status.reasonPhrase))
                rendered.status = error.status
                return rendered
            }
        default:
            context.logger.error("unexpected failure", metadata: ["error": "\(error)"])
            return .error(CloudSigmaError(.backend, "Internal error"))
        }
    }
}

/// HTTP Basic authentication against the users table, with a cache of verified credentials.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = DrivesRequestContext
    let authenticator: Authenticator

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization],
            let user = try await authenticator.authenticate(authorization: header)
        else {
            throw UnauthorizedError(realm: authenticator.realm)
        }
        var context = context
        context.user = user
        context.logger[metadataKey: "user"] = "\(user.uuid)"
        return try await next(request, context)
    }
}

extension HTTPField.Name {
    static let xRequestID = HTTPField.Name("X-Request-ID")!
}
