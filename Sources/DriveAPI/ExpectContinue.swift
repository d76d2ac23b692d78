import HTTPTypes
import Hummingbird
import HummingbirdCore
import NIOCore
import NIOHTTPTypes

/// `Expect: 100-continue` (RFC 9110 §10.1.1), for the upload routes: curl sends it for bodies
/// over 1 MiB and waits about a second for it. The interim `100 Continue` goes out only when a
/// handler starts reading the body (``DrivesRequestContext/sendContinueIfExpected(_:)``), after
/// authentication and the checks made before the body: a request refused earlier (401, 400, 403)
/// gets its final answer without the body ever being sent.
final class ExpectContinueHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private var expecting = false
    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let head) = unwrapInboundIn(data) {
            expecting = head.headerFields[.expect]?.lowercased() == "100-continue"
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .head(let head) = unwrapOutboundIn(data), head.status.kind != .informational {
            expecting = false
        }
        context.write(data, promise: promise)
    }

    /// Sends `100 Continue` when the current request asked for it and nothing was answered yet.
    func sendContinue() {
        guard expecting, let context else { return }
        expecting = false
        context.writeAndFlush(wrapOutboundOut(.head(HTTPResponse(status: .continue))), promise: nil)
    }
}

extension DrivesRequestContext {
    /// Tells a client waiting on `Expect: 100-continue` to send the body (see
    /// ``ExpectContinueHandler``). A no-op without the expectation or outside a real connection.
    func sendContinueIfExpected(_ request: Request) {
        guard request.headers[.expect]?.lowercased() == "100-continue", let channel else { return }
        channel.eventLoop.execute {
            if let handler = try? channel.pipeline.syncOperations.handler(type: ExpectContinueHandler.self) {
                handler.sendContinue()
            }
        }
    }
}
