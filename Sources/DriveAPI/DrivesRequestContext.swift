import DriveStorage
import Hummingbird
import NIOCore

/// The per-request context: the authenticated user and the request id.
public struct DrivesRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by ``AuthMiddleware``.
    public var user: User?
    /// Set by the outermost middleware: the `X-Request-ID` of this request.
    public var requestID = ""
    /// The connection (for `Expect: 100-continue`).
    let channel: (any Channel)?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
    }

    /// The authenticated user, or `401`.
    public func requireUser() throws -> User {
        guard let user else { throw CloudSigmaError.unauthorized }
        return user
    }
}
