import Logging
import NIOCore
import NIOWebSocket
import Synchronization

/// Open connections, counted as they are accepted and closed (`/_drivesd/ready`, the metrics).
public final class ConnectionCounter: Sendable {
    private let open = Atomic<Int>(0)
    private let accepted = Atomic<Int>(0)
    private let timedOut = Atomic<Int>(0)

    public init() {}

    /// Connections open now.
    public var current: Int { open.load(ordering: .relaxed) }
    /// Connections accepted since start.
    public var total: Int { accepted.load(ordering: .relaxed) }
    /// Connections closed because their first request had not arrived within the idle timeout.
    public var closedBeforeRequest: Int { timedOut.load(ordering: .relaxed) }

    /// Counts `channel` until it closes.
    func track(_ channel: any Channel) {
        open.add(1, ordering: .relaxed)
        accepted.add(1, ordering: .relaxed)
        channel.closeFuture.whenComplete { [self] _ in open.subtract(1, ordering: .relaxed) }
    }

    func countIdleClose() { timedOut.add(1, ordering: .relaxed) }
}

/// Closes a connection whose first request head has not fully arrived within the idle timeout:
/// a client that connects and sends nothing, or half a request, or one byte at a time. It sits at
/// the front of the pipeline until the first head is read (the HTTP upgrade negotiation then
/// removes it); from then on Hummingbird's `HTTPConnectionStateHandler` applies the same
/// timeout between requests and while a request is being read.
final class FirstRequestDeadline: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    static let name = "drivesd.first-request-deadline"

    /// Removes the handler from `channel`'s pipeline (the first request head arrived), if there.
    static func remove(from channel: any Channel) {
        let pipeline = channel.pipeline.syncOperations
        if let context = try? pipeline.context(name: name) { pipeline.removeHandler(context: context, promise: nil) }
    }

    let timeout: TimeAmount
    let counter: ConnectionCounter
    private var scheduled: Scheduled<Void>?

    init(timeout: TimeAmount, counter: ConnectionCounter) {
        self.timeout = timeout
        self.counter = counter
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let counter = self.counter
        let channel = context.channel
        scheduled = context.eventLoop.scheduleTask(in: timeout) {
            counter.countIdleClose()
            channel.close(promise: nil)
        }
    }

    /// Also called when the channel closes (the pipeline removes every handler then).
    func handlerRemoved(context: ChannelHandlerContext) {
        scheduled?.cancel()
        scheduled = nil
    }

    /// A shutdown began: a connection still waiting for its first request has nothing to
    /// finish, so it closes now instead of holding the graceful shutdown for its whole timeout.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

}

/// RFC 6455 §5.1: a server must close the connection on a client frame that is not masked.
/// NIO's frame decoder leaves that check to the application (its decoder serves clients too).
final class RequireMaskedFrames: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private var closing = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        let frame = unwrapInboundIn(data)
        guard frame.maskKey != nil else {
            closing = true
            var reason = context.channel.allocator.buffer(capacity: 2)
            reason.write(webSocketErrorCode: .protocolError)
            let close = WebSocketFrame(fin: true, opcode: .connectionClose, data: reason)
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(close)).whenComplete { _ in channel.close(promise: nil) }
            return
        }
        context.fireChannelRead(data)
    }
}
