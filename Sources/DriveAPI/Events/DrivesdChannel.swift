import HTTPTypes
import DriveModel
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import NIOWebSocket
import Synchronization
@_spi(WSInternal) import WSCore

/// The server's HTTP/1.1 channel: the API, and the websocket of change events on the same port.
///
/// hummingbird-websocket's own upgrade channel answers every refused handshake with a bare
/// `400`; the contract wants `401` with the error array (W-c), so this channel negotiates the
/// upgrade with NIO's typed upgrader itself and hands a refused handshake to the router like any
/// request (its `/websocket` route renders the 401). An accepted one is served by
/// hummingbird-websocket's frame handler (pings, close handshake, control frames).
struct DrivesdChannel: ServerChildChannel, HTTPChannelHandler {
    enum Negotiated: Sendable {
        case websocket(NIOAsyncChannel<WebSocketFrame, WebSocketFrame>, EventSubscription)
        case http(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
    }

    struct Value: ServerChildChannelValue {
        let negotiated: EventLoopFuture<Negotiated>
        let channel: any Channel
        let accepted: AcceptedSubscription
    }

    let responder: HTTPChannelHandler.Responder
    let sockets: EventSockets
    let additionalChannelHandlers: @Sendable () -> [any RemovableChannelHandler]
    let webSocket: WebSocketServerConfiguration
    /// How long a connection may send nothing (before and between requests, or while a request
    /// is being read); nil: forever.
    let idleTimeout: Duration?
    let connections: ConnectionCounter
    /// Served over TLS (the requests' scheme).
    let secure: Bool

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            connections.track(channel)
            let idleTimeout = self.idleTimeout
            if let idleTimeout {
                try channel.pipeline.syncOperations.addHandler(
                    FirstRequestDeadline(timeout: .init(idleTimeout), counter: connections), name: FirstRequestDeadline.name,
                    position: .first)
            }
            let accepted = AcceptedSubscription()
            let sockets = self.sockets
            let upgrader = NIOTypedWebSocketServerUpgrader<Negotiated>(
                maxFrameSize: webSocket.maxFrameSize,
                shouldUpgrade: { channel, head in
                    let promise = channel.eventLoop.makePromise(of: HTTPHeaders?.self)
                    promise.completeWithTask {
                        switch await sockets.accept(head) {
                        case .accepted(let subscription):
                            accepted.set(subscription)
                            return HTTPHeaders()
                        case .refused(let status, let error):
                            accepted.refuse(status, error)
                            return nil
                        }
                    }
                    return promise.futureResult
                },
                upgradePipelineHandler: { channel, _ in
                    channel.eventLoop.makeCompletedFuture {
                        // A websocket is kept alive by its pings, not by the idle timeout.
                        FirstRequestDeadline.remove(from: channel)
                        guard let subscription = accepted.take() else { throw ChannelError.inappropriateOperationForState }
                        try channel.pipeline.syncOperations.addHandler(RequireMaskedFrames())
                        let asyncChannel = try NIOAsyncChannel<WebSocketFrame, WebSocketFrame>(
                            wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
                        return Negotiated.websocket(asyncChannel, subscription)
                    }
                })
            let handlers = additionalChannelHandlers
            let upgrade = NIOTypedHTTPServerUpgradeConfiguration<Negotiated>(
                upgraders: [upgrader],
                notUpgradingCompletionHandler: { channel in
                    channel.eventLoop.makeCompletedFuture {
                        FirstRequestDeadline.remove(from: channel)
                        try channel.pipeline.syncOperations.addHandler(HTTP1ToHTTPServerCodec(secure: secure))
                        try channel.pipeline.syncOperations.addHandlers(handlers())
                        try channel.pipeline.syncOperations.addHandler(HTTPConnectionStateHandler(idleTimeout: idleTimeout, logger: logger))
                        return Negotiated.http(
                            try NIOAsyncChannel(wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true)))
                    }
                })
            var configuration = NIOUpgradableHTTPServerPipelineConfiguration<Negotiated>(upgradeConfiguration: upgrade)
            configuration.enablePipelining = false
            configuration.enableErrorHandling = false
            configuration.enableResponseHeaderValidation = false
            let negotiated = try channel.pipeline.syncOperations.configureUpgradableHTTPServerPipeline(configuration: configuration)
            // NIO's upgrader consumes a request that asks for an upgrade it does not perform (an
            // unknown protocol, a malformed handshake): note such requests, to answer them.
            let upgradeHandler = try channel.pipeline.syncOperations.handler(type: NIOTypedHTTPServerUpgradeHandler<Negotiated>.self)
            try channel.pipeline.syncOperations.addHandler(UpgradeWatcher(accepted: accepted), position: .before(upgradeHandler))
            return Value(negotiated: negotiated, channel: channel, accepted: accepted)
        }
    }

    func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.negotiated.get() {
            case .http(let http):
                if let (status, error) = value.accepted.refusal ?? value.accepted.unservedUpgrade {
                    // NIO consumed the request (a refused handshake, or an upgrade it does not
                    // perform): answer it here, then close.
                    try await http.executeThenClose { _, outbound in
                        var body = ByteBuffer()
                        body.writeBytes(error.body.jsonBytes)
                        var headers: HTTPFields = [.connection: "close", .contentType: "application/json; charset=utf-8"]
                        headers[.contentLength] = String(body.readableBytes)
                        try await outbound.write(
                            contentsOf: [.head(HTTPResponse(status: status, headerFields: headers)), .body(body), .end(nil)])
                    }
                    return
                }
                await handleHTTP(asyncChannel: http, logger: logger)
            case .websocket(let socket, let subscription):
                defer { subscription.cancel() }
                _ = try await WebSocketHandler.handle(
                    type: .server,
                    configuration: .init(
                        extensions: [], autoPing: webSocket.autoPing, closeTimeout: webSocket.closeTimeout,
                        validateUTF8: webSocket.validateUTF8, maxFrameSize: webSocket.maxFrameSize),
                    asyncChannel: socket, context: EventSocketContext(logger: logger),
                    handler: { inbound, outbound, _ in
                        try await EventSockets.serve(subscription, channel: socket.channel, inbound: inbound, outbound: outbound)
                    })
            }
        } catch let error as ChannelError where error == .inputClosed {
            logger.trace("connection closed before a request")
        } catch {
            logger.debug("connection ended", metadata: ["error": "\(error)"])
            // The negotiation failed (a malformed handshake): the HTTP/1 encoder is still there.
            if let (status, refusal) = value.accepted.refusal ?? value.accepted.unservedUpgrade {
                let body = ByteBuffer(bytes: refusal.body.jsonBytes)
                let head = HTTPResponseHead(
                    version: .http1_1, status: .init(statusCode: status.code),
                    headers: ["connection": "close", "content-type": "application/json; charset=utf-8", "content-length": "\(body.readableBytes)"])
                let channel = value.channel
                channel.write(HTTPServerResponsePart.head(head), promise: nil)
                channel.write(HTTPServerResponsePart.body(.byteBuffer(body)), promise: nil)
                try? await channel.writeAndFlush(HTTPServerResponsePart.end(nil))
                try? await channel.close()
            }
        }
    }
}

/// Notes the first request's `Upgrade` header, before NIO's upgrader sees (and may swallow) it.
final class UpgradeWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    let accepted: AcceptedSubscription

    init(accepted: AcceptedSubscription) { self.accepted = accepted }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let head) = unwrapInboundIn(data) {
            if let requested = head.headers["upgrade"].first {
                accepted.sawUpgrade(requested, path: head.uri)
            }
            context.fireChannelRead(data)
            context.pipeline.syncOperations.removeHandler(self, promise: nil)
            return
        }
        context.fireChannelRead(data)
    }
}

/// Carries the subscription made at the handshake to the upgraded channel, or why the
/// handshake was refused.
final class AcceptedSubscription: Sendable {
    private let value = Mutex<(subscription: EventSubscription?, refusal: (HTTPResponse.Status, CloudSigmaError)?)>((nil, nil))
    func set(_ subscription: EventSubscription) { value.withLock { $0.subscription = subscription } }
    func take() -> EventSubscription? { value.withLock { $0.subscription.take() } }
    func refuse(_ status: HTTPResponse.Status, _ error: CloudSigmaError) { value.withLock { $0.refusal = (status, error) } }
    var refusal: (HTTPResponse.Status, CloudSigmaError)? { value.withLock { $0.refusal } }

    private let upgrade = Mutex<(requested: String, path: String)?>(nil)
    func sawUpgrade(_ requested: String, path: String) { upgrade.withLock { $0 = (requested, path) } }

    /// The answer to a first request that asked for an upgrade that did not happen: NIO's
    /// upgrader consumed it, so the router never sees it.
    var unservedUpgrade: (HTTPResponse.Status, CloudSigmaError)? {
        guard let (requested, path) = upgrade.withLock({ $0 }) else { return nil }
        return (
            .badRequest,
            CloudSigmaError(
                .validation,
                "drivesd does not serve Upgrade: \(requested) for \(path): send the request without an Upgrade header (websockets: a handshake on /websocket with Sec-WebSocket-Key and Sec-WebSocket-Version 13)"
            )
        )
    }
}

/// What a handshake gets.
enum Handshake: Sendable {
    case accepted(EventSubscription)
    case refused(HTTPResponse.Status, CloudSigmaError)
}

struct EventSocketContext: WebSocketContext {
    let logger: Logger
}

/// Who may open the events websocket, and what it sends.
struct EventSockets: Sendable {
    let hub: EventHub
    let authenticator: Authenticator
    let admin: AdminAccess

    /// The paths of the account websocket (pycloudsigma's `ws_endpoint` is `…/websocket`; the old
    /// docs say `/2.0/websocket`).
    static let accountPaths: Set<String> = ["/websocket", "/2.0/websocket", "/api/2.0/websocket"]
    /// Every account's changes, for the admin (the console).
    static let adminPath = "/_drivesd/websocket"

    static let cookieMissing = CloudSigmaError(
        .permission,
        "The websocket needs a valid async_auth cookie: POST /api/2.0/accounts/action/?do=authenticate_asynchronous, then connect within 2 minutes")

    /// The subscription of an acceptable handshake (subscribed now: W6), or why it is refused.
    func accept(_ head: HTTPRequestHead) async -> Handshake {
        let path = String(head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
        let trimmed = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        let fields = HTTPFields(head.headers, splitCookie: false)
        if Self.accountPaths.contains(trimmed) {
            guard let cookie = Authenticator.cookie("async_auth", in: fields),
                let user = try? await authenticator.asyncCookieUser(cookie)
            else { return .refused(.unauthorized, Self.cookieMissing) }
            return await subscribe(owner: user.uuid)
        }
        if trimmed == Self.adminPath {
            guard let grant = admin.grant(fields) else { return .refused(.unauthorized, CloudSigmaError.unauthorized) }
            // A console session's cookie goes with any page's websocket: only the console's own
            // pages (same origin) may open one (cross-site websocket hijacking).
            if case .session = grant, let origin = fields[.origin], !Self.sameOrigin(origin, host: head.headers["host"].first)
            {
                return .refused(.forbidden, CloudSigmaError(.permission, "The console's websocket is for pages of this server"))
            }
            return await subscribe(owner: nil)
        }
        return .refused(
            .notFound, CloudSigmaError(.notexist, "No websocket at \(path): change events are served on /websocket"))
    }

    /// Whether an `Origin` names the host the request was sent to.
    static func sameOrigin(_ origin: String, host: String?) -> Bool {
        guard let host, let scheme = origin.range(of: "://") else { return false }
        return origin[scheme.upperBound...].lowercased() == host.lowercased()
    }

    func subscribe(owner: String?) async -> Handshake {
        do {
            return .accepted(try await hub.subscribe(owner: owner))
        } catch {
            return .refused(.serviceUnavailable, CloudSigmaError(.concurrency, "Could not subscribe to change events: \(error)"))
        }
    }

    /// Sends the subscription's frames until the client goes or the queue overflows. An
    /// overflowing subscriber gets no more frames: it is sent a close with 1008 (policy
    /// violation), and its connection is closed after at most a second whether the close frame
    /// could be written or not (a client that does not read never makes its socket writable).
    /// Frames from the client are read and ignored.
    static func serve(
        _ subscription: EventSubscription, channel: any Channel, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter
    ) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for try await _ in inbound {}
            }
            group.addTask {
                while true {
                    let frames = await subscription.next()
                    if frames.isEmpty || subscription.didOverflow { break }
                    // A burst goes out in one flush: every frame but the last is written without
                    // one, and the writer waits until the last is handed to the kernel (so a
                    // client that does not read stops its own writer, and only its own).
                    for frame in frames.dropLast() {
                        channel.write(WebSocketFrame(fin: true, opcode: .text, data: frame), promise: nil)
                    }
                    try await channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .text, data: frames[frames.count - 1]))
                }
                guard subscription.didOverflow else { return }  // the hub stopped (shutdown)
                try? await withThrowingTaskGroup(of: Void.self) { closing in
                    closing.addTask { try await outbound.close(.policyViolation, reason: "subscriber too slow: its queue overflowed") }
                    closing.addTask { try await Task.sleep(for: .seconds(1)) }
                    _ = try await closing.next()
                    closing.cancelAll()
                }
                try? await channel.close()
            }
            _ = try await group.next()
            group.cancelAll()
        }
    }
}

/// The websocket paths as plain HTTP routes: what a refused handshake (or a request that is no
/// handshake) gets. 401 without a valid `async_auth` cookie (W-c); 400 otherwise (a handshake
/// must open its connection: NIO negotiates upgrades on a connection's first request only).
struct EventSocketRoutes {
    let sockets: EventSockets

    func register(on router: Router<DrivesRequestContext>) {
        for path in EventSockets.accountPaths {
            router.on(RouterPath(String(path.dropFirst())), method: .get) { request, _ -> Response in
                guard let cookie = Authenticator.cookie("async_auth", in: request.headers),
                    (try await sockets.authenticator.asyncCookieUser(cookie)) != nil
                else {
                    throw UnauthorizedError(challenges: [], message: EventSockets.cookieMissing.message)
                }
                throw CloudSigmaError.validation(nil, "This is a websocket: open a new connection with Upgrade: websocket")
            }
        }
        router.on(RouterPath(String(EventSockets.adminPath.dropFirst())), method: .get) { _, _ -> Response in
            throw CloudSigmaError.validation(nil, "This is a websocket (admin credentials): open a new connection with Upgrade: websocket")
        }
    }
}
