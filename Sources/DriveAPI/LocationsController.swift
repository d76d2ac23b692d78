import DriveModel
import Foundation
import Hummingbird
import Synchronization

/// `/locations/`: the one location this daemon is, with its URLs pointing at its own listener
/// (the Go SDK's `Location`: `api_endpoint`, `upload_url`, `websocket_url`, ...). Served without
/// credentials, as clients read it before they log in. The host is the one the client used (its
/// `Host` header), so the URLs work through whatever address reached drivesd.
struct LocationsController {
    let scheme: String
    let listener: ListenerAddress

    func register(on group: RouterGroup<DrivesRequestContext>) {
        let scheme = self.scheme
        let listener = self.listener
        group.resource("locations", get: { request, _ in
            let host = Self.host(request.head.authority) ?? listener.address
            let location = Self.location(scheme: scheme, host: host)
            return .json(ListPage(limit: 20, offset: 0, totalCount: 1, objects: [location]).json)
        })
    }

    /// `authority` when it is a plain host[:port] (anything else is not echoed into URLs).
    static func host(_ authority: String?) -> String? {
        guard let authority, !authority.isEmpty, authority.count <= 255,
            authority.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-.:[]_".contains($0)) })
        else { return nil }
        return authority
    }

    static func location(scheme: String, host: String) -> JSONValue {
        let base = "\(scheme)://\(host)"
        return .object([
            "id": .string("LOCAL"),
            "display_name": .string("drivesd at \(host)"),
            "country_code": .string(""),
            "api_endpoint": .string("\(base)/api/2.0/"),
            "upload_url": .string("\(base)/api/2.0/"),
            "websocket_url": .string("\(scheme == "https" ? "wss" : "ws")://\(host)/websocket"),
            "default_frontend_url": .string("\(base)/_drivesd/console/"),
            "default_frontend_signup_url": .string(""),
            "alternative_frontend_url": .string(""),
            "documentation_url": .string("\(base)/api/2.0/openapi.json"),
        ])
    }
}

/// The address the listener serves, as `host:port` (`[v6]:port`): the configured one, then, once
/// the socket is bound, with the port the system gave (what `--port 0` asked for).
public final class ListenerAddress: Sendable {
    private let value: Mutex<String>

    public init(_ configured: String) { value = Mutex(configured) }

    public var address: String { value.withLock { $0 } }

    /// The socket is bound on `port`: keeps the configured host, replaces the port.
    public func bound(port: Int) {
        value.withLock { address in
            guard let colon = address.lastIndex(of: ":") else { return }
            address = "\(address[..<colon]):\(port)"
        }
    }
}
