import DriveModel
import DriveStorage
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
    let metrics: MetricsRegistry
    let requestLog: RequestLog
    /// Writes the request's line itself (the daemon's log format) instead of going through
    /// swift-log's metadata dictionary; nil: through `context.logger`.
    var accessLog: (@Sendable (AccessLogLine) -> Void)? = nil

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async -> Response {
        let requestID = Self.requestID(request)
        var context = context
        context.requestID = requestID
        let notes = RequestNotes()
        context.notes = notes
        let start = ContinuousClock.now
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            response = render(error, request: request, context: context)
        }
        response.headers[.xRequestID] = requestID
        let seconds = (ContinuousClock.now - start).seconds
        let route = context.endpointPath ?? "unmatched"
        metrics.observe(route: route, method: request.method.rawValue, status: response.status.code, seconds: seconds)
        // `uri.path` makes a new string each time it is asked for.
        let path = request.uri.path
        requestLog.append(
            RequestLog.Entry(
                date: Date(), requestID: requestID, method: request.method.rawValue, path: path,
                query: request.uri.query ?? "", status: response.status.code,
                requestBytes: request.headers[.contentLength].flatMap { Int($0) }, responseBytes: response.body.contentLength,
                durationMs: seconds * 1000, user: notes.account.withLock { $0 }))
        if context.logger.logLevel <= .info {
            let line = AccessLogLine(
                method: request.method.rawValue, path: path, status: response.status.code, requestID: requestID,
                microseconds: Int((seconds * 1_000_000).rounded()))
            if let accessLog {
                accessLog(line)
            } else {
                context.logger.info(
                    "\(line.method) \(line.path) \(line.status)",
                    metadata: [
                        "method": "\(line.method)", "path": "\(line.path)", "status": "\(line.status)", "request_id": "\(requestID)",
                        "duration_ms": "\(line.durationMilliseconds)",
                    ])
            }
        }
        return response
    }

    /// The request's `X-Request-ID` when it sent a sane one, else a fresh UUID. Inner middleware
    /// and handlers find it in `context.requestID`.
    static func requestID(_ request: Request) -> String {
        if let given = request.headers[.xRequestID], !given.isEmpty, given.utf8.count <= 128,
            given.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F })
        {
            return given
        }
        return Identifiers.make()
    }

    func render(_ error: any Error, request: Request, context: Context) -> Response {
        switch error {
        case let error as CloudSigmaError:
            return .error(error)
        case let error as UnauthorizedError:
            return error.response
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

/// One request's log line: what the outermost middleware knows when the answer is ready.
public struct AccessLogLine: Sendable {
    public var method: String
    public var path: String
    public var status: Int
    public var requestID: String
    public var microseconds: Int

    public init(method: String, path: String, status: Int, requestID: String, microseconds: Int) {
        self.method = method
        self.path = path
        self.status = status
        self.requestID = requestID
        self.microseconds = microseconds
    }

    /// `0.123`: milliseconds with three decimals.
    public var durationMilliseconds: String {
        let fraction = String(microseconds % 1000)
        return "\(microseconds / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
    }
}

/// The API's own middleware, one step for what used to be three (Benchmarks/README.md, round 3:
/// each layer is an async call and return of its own on every request):
/// 1. content negotiation (``Negotiation``): a 406 before anything else;
/// 2. the faults a request asks for with `X-Drivesd-Fault-Id` (admin API);
/// 3. authentication (Basic, Digest, Bearer, session cookie with CSRF: see ``Authenticator``),
///    unless `authenticator` is nil (the account and location routes, which need no account).
struct APIMiddleware: RouterMiddleware {
    typealias Context = DrivesRequestContext
    let faults: FaultRegistry
    let admin: any AdminRepository
    let authenticator: Authenticator?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        try Negotiation.check(request)
        if let id = request.headers[.xDrivesdFaultID],
            let fault = faults.consume(id, requestID: context.requestID, at: Timestamp.now()),
            let response = try await apply(fault, to: request)
        {
            return response
        }
        guard let authenticator else { return try await next(request, context) }
        let authentication = try await authenticator.authenticate(request, address: context.clientAddress)
        var context = context
        context.user = authentication.user
        context.authentication = authentication
        context.notes?.account.withLock { $0 = authentication.user.email }
        return try await next(request, context)
    }

    /// Applies an injected fault: the answer it makes, or nil when the request goes on (after a
    /// delay, or with a drive's availability changed).
    func apply(_ fault: FaultRegistry.Fault, to request: Request) async throws -> Response? {
        switch fault {
        case .status(let code):
            let kind: CloudSigmaError.Kind =
                switch code {
                case 503: .concurrency
                case 500...: .backend
                case 404: .notexist
                case 403: .permission
                default: .validation
                }
            var response = Response.error(CloudSigmaError(kind, "Injected fault: return-\(code)", retryAfter: code == 503 ? 1 : nil))
            response.status = .init(code: code)
            return response
        case .delay(let seconds):
            try await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
            return nil
        case .setStatus(let available):
            let parts = request.uri.path.split(separator: "/")
            if let i = parts.firstIndex(of: "drives"), i + 1 < parts.count {
                _ = try? await admin.setAvailability(driveUUID: String(parts[i + 1]), available: available)
            }
            return nil
        }
    }
}

extension HTTPField.Name {
    static let xRequestID = HTTPField.Name("X-Request-ID")!
    static let xDrivesdFaultID = HTTPField.Name("X-Drivesd-Fault-Id")!
}

/// Content negotiation (reference §1): `Accept` picks the answer's format. drivesd answers JSON
/// (and a drive's bytes as `application/octet-stream`, a single upload's uuid as `text/plain`);
/// an `Accept` that admits none of them (`application/xml`, `text/html` without `*/*`) is 406. On
/// a GET, `?format=json` overrides the headers (the last `format` wins); any other format is 406.
enum Negotiation {
    /// Throws the 406 when `request` accepts nothing drivesd answers at its path.
    static func check(_ request: Request) throws {
        // Every API request passes here: the query is parsed only when it may name a format
        // (spelled out, or percent-encoded).
        let query = request.uri.query ?? ""
        let format =
            (request.method == .get || request.method == .head) && (query.containsASCII("format") || query.containsASCII("%"))
            ? QueryParameters(request.uri).pairs.last(where: { $0.name == "format" })?.value : nil
        let accept = request.headers[values: .accept].joined(separator: ",")
        if let refusal = refusal(format: format, accept: accept, served: served(path: request.uri.path)) {
            throw refusal
        }
    }

    /// What drivesd answers at `path`: JSON (errors included), and a drive's bytes on its
    /// download path, a single upload's uuid as text on the upload path.
    static func served(path: String) -> Set<String> {
        if path.hasSuffix("/download/") || path.hasSuffix("/download") { return bytes }
        if path.containsASCII("/drives/upload") { return text }
        return json
    }

    static let json: Set<String> = ["application/json"]
    static let bytes: Set<String> = ["application/json", "application/octet-stream"]
    static let text: Set<String> = ["application/json", "text/plain"]

    /// The 406 for this `format` parameter (GET only) and `Accept` header, or nil when one of
    /// the `served` types is acceptable.
    static func refusal(format: String?, accept: String, served: @autoclosure () -> Set<String>) -> CloudSigmaError? {
        if let format {
            if format.lowercased() == "json" { return nil }
            return CloudSigmaError(
                .notAcceptable, point: "format", "format=\(format.prefix(40)) is not served: drivesd answers format=json")
        }
        // What nearly every client sends (or nothing): no parsing on the request path.
        if accept.isEmpty || accept == "*/*" || accept == "application/json" { return nil }
        let served = served()
        var ranges = 0
        for item in accept.split(separator: ",") {
            let parts = item.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard let range = parts.first, range.contains("/") else { continue }
            ranges += 1
            let q = parts.dropFirst().first(where: { $0.hasPrefix("q=") }).flatMap { Double($0.dropFirst(2)) } ?? 1
            if q <= 0 { continue }
            let type = range.split(separator: "/", maxSplits: 1).first.map(String.init) ?? ""
            if range == "*/*" || served.contains(range) || (range.hasSuffix("/*") && served.contains { $0.hasPrefix(type + "/") }) {
                return nil
            }
        }
        // No header, or nothing in it that parses as a media range: JSON, as for `*/*`.
        if ranges == 0 { return nil }
        return CloudSigmaError(
            .notAcceptable, point: "Accept",
            "None of the types in Accept can be served: drivesd answers application/json (application/xml is not served)")
    }
}
