import DriveStorage
import Hummingbird
import NIOCore

/// The per-request context: the authenticated user and the request id.
public struct DrivesRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by ``APIMiddleware``.
    public var user: User?
    /// How the user was authenticated (set with `user`).
    public var authentication: Authentication?
    /// Set by the outermost middleware: the `X-Request-ID` of this request.
    public var requestID = ""
    /// Set by the outermost middleware: what inner layers note for the request log.
    var notes: RequestNotes?
    /// Set by ``AdminAuthMiddleware`` (and the console's gate): how the admin authenticated.
    var adminGrant: AdminAccess.Grant?
    /// The connection (for `Expect: 100-continue`).
    let channel: (any Channel)?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
    }

    /// The client's IP address ("local" without a socket: router tests).
    var clientAddress: String {
        channel?.remoteAddress?.ipAddress ?? "local"
    }

    /// The authenticated user, or `401`.
    public func requireUser() throws -> User {
        guard let user else { throw CloudSigmaError.unauthorized }
        return user
    }
}
