import DriveModel
import Foundation
import Testing

extension ProcessSuites {
    /// The command line changes credentials while the daemon runs (another process on the same
    /// database): the daemon's cache of verified credentials must not outlive the change by more
    /// than a second.
    @Suite("Credentials changed by the command line", .timeLimit(.minutes(2)))
    struct CredentialsProcessTests {
        @Test("token create, list, revoke while the daemon runs; user password: the old credentials stop within a second")
        func commandLine() async throws {
            let daemon = try DaemonProcess()
            try daemon.addUser()
            try await daemon.start(timeScale: 0)
            defer { _ = daemon.stop() }
            let database = ["--database", daemon.databasePath]

            let (created, token) = try daemon.run(["token", "create", daemon.email, "--expires-in", "3600"] + database)
            #expect(created == 0)
            let secret = token.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(secret.hasPrefix("dsd_") && secret.count > 40)
            let bearer = ["Authorization": "Bearer \(secret)"]
            #expect(try await offPool { try RawSocket.status(port: daemon.port, path: "/api/2.0/drives/", headers: bearer) } == 200)
            #expect(try await offPool { try RawSocket.status(port: daemon.port, path: "/api/2.0/drives/", headers: bearer) } == 200)  // cached now

            let (listed, list) = try daemon.run(["token", "list", daemon.email] + database)
            #expect(listed == 0)
            let lines = list.split(separator: "\n")
            #expect(lines.count == 1)
            #expect(!list.contains(secret), "the list never shows a token")
            let id = try #require(lines.first?.split(separator: "\t").first.map(String.init))

            // The daemon reads the credential epoch at most every 500 ms, on a request: a second
            // after the change, the next request must see it (whatever the machine's load).
            #expect(try daemon.run(["token", "revoke", id] + database).0 == 0)
            try await Task.sleep(for: .seconds(1))
            #expect(try await offPool { try RawSocket.status(port: daemon.port, path: "/api/2.0/drives/", headers: bearer) } == 401)
            #expect(try daemon.run(["token", "revoke", id] + database, errors: true).0 != 0, "revoking twice: no such token")
            #expect(try daemon.run(["token", "create", "nobody@example.com"] + database, errors: true).0 != 0)

            let basic = ["Authorization": "Basic " + Data("\(daemon.email):\(daemon.password)".utf8).base64EncodedString()]
            #expect(try await offPool { try RawSocket.status(port: daemon.port, path: "/api/2.0/drives/", headers: basic) } == 200)
            #expect(try daemon.run(["user", "password", daemon.email, "--password", "changed-pw"] + database).0 == 0)
            try await Task.sleep(for: .seconds(1))
            #expect(try await offPool { try RawSocket.status(port: daemon.port, path: "/api/2.0/drives/", headers: basic) } == 401)
            let fresh = ["Authorization": "Basic " + Data("\(daemon.email):changed-pw".utf8).base64EncodedString()]
            #expect(try await offPool { try RawSocket.status(port: daemon.port, path: "/api/2.0/drives/", headers: fresh) } == 200)
        }

        @Test("the websocket handshake: 101 with the cookie, 401 without; frames arrive on the raw socket")
        func handshake() async throws {
            let daemon = try DaemonProcess()
            try daemon.addUser()
            try await daemon.start(timeScale: 0)
            defer { _ = daemon.stop() }
            let cookieReply = try await daemon.raw("POST", "/api/2.0/accounts/action/?do=authenticate_asynchronous", body: Data("{}".utf8))
            #expect(cookieReply.status == 200)
            let setCookie = try #require(cookieReply.headers["set-cookie"])
            let cookie = String(setCookie.prefix { $0 != ";" })
            #expect(cookie.hasPrefix("async_auth="))

            let refused = try await offPool { try RawSocket.handshake(port: daemon.port, path: "/websocket", cookie: "async_auth=nope") }
            #expect(refused.head.hasPrefix("HTTP/1.1 401"), "\(refused.head)")
            #expect(refused.head.contains("error_type"), "the error array")
            let alias = try await offPool { try RawSocket.handshake(port: daemon.port, path: "/api/2.0/websocket", cookie: nil) }
            #expect(alias.head.hasPrefix("HTTP/1.1 401"))

            // A request asking for an upgrade that is not served is answered (400), not swallowed.
            let basic = "Authorization: Basic " + Data("\(daemon.email):\(daemon.password)".utf8).base64EncodedString() + "\r\n"
            for upgrade in ["Upgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n",
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"]
            {
                let request = "GET /api/2.0/drives/ HTTP/1.1\r\nHost: 127.0.0.1\r\n" + basic + upgrade + "\r\n"
                let answer = try await offPool { try RawSocket.exchange(port: daemon.port, request: request, keepOpen: false) }
                #expect(answer.head.hasPrefix("HTTP/1.1 400"), "\(answer.head.prefix(200))")
                #expect(answer.head.contains("\"error_type\": \"validation\""))
            }

            let socket = try await offPool { try RawSocket.handshake(port: daemon.port, path: "/2.0/websocket", cookie: cookie, keepOpen: true) }
            defer { socket.close() }
            #expect(socket.head.hasPrefix("HTTP/1.1 101"), "\(socket.head)")
            let created = try await daemon.request(
                "POST", "/api/2.0/drives/", body: #"{"name": "ws", "size": 1073741824, "media": "disk"}"#)
            let uuid = try #require(created.json?["objects"]?.arrayValue?.first?["uuid"]?.stringValue)
            let text = try await offPool { try socket.readTextFrame(timeout: 10) }
            let frame = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
            #expect(frame["resource_type"]?.stringValue == "drives")
            #expect(frame["resource_uri"]?.stringValue == "/api/2.0/drives/\(uuid)/")
        }
    }

        @Test("websocket garbage: random bytes, unmasked, oversized, 1 GiB declared, reserved opcodes close that socket only; others keep their frames")
        func websocketGarbage() async throws {
            let daemon = try DaemonProcess()
            try daemon.addUser()
            try await daemon.start(timeScale: 0)
            let cookieReply = try await daemon.raw("POST", "/api/2.0/accounts/action/?do=authenticate_asynchronous", body: Data("{}".utf8))
            let cookie = String(try #require(cookieReply.headers["set-cookie"]).prefix { $0 != ";" })
            let witness = try await offPool { try RawSocket.handshake(port: daemon.port, path: "/websocket", cookie: cookie, keepOpen: true) }
            defer { witness.close() }
            #expect(witness.head.hasPrefix("HTTP/1.1 101"))

            func masked(_ opcode: UInt8, _ payload: [UInt8]) -> [UInt8] {
                let key: [UInt8] = [0x12, 0x34, 0x56, 0x78]
                var frame: [UInt8] = [0x80 | opcode]
                if payload.count < 126 {
                    frame.append(0x80 | UInt8(payload.count))
                } else if payload.count < 65536 {
                    frame += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xff)]
                } else {
                    frame.append(0x80 | 127)
                    frame += (0..<8).reversed().map { UInt8(truncatingIfNeeded: payload.count >> ($0 * 8)) }
                }
                return frame + key + payload.enumerated().map { $0.element ^ key[$0.offset % 4] }
            }
            var random = SystemRandomNumberGenerator()
            let violations: [(String, [UInt8])] = [
                // Random bytes after a first byte with the reserved bits set (no extension was agreed).
                ("random bytes", [0xF1] + (0..<255).map { _ in UInt8.random(in: 0...255, using: &random) }),
                ("an unmasked client frame", [0x81, 0x05] + Array("hello".utf8)),
                ("a reserved opcode", masked(0x3, Array("x".utf8))),
                ("a frame over the 64 KiB limit", masked(0x2, [UInt8](repeating: 7, count: 70_000))),
                ("1 GiB declared", [0x82, 0x80 | 127, 0, 0, 0, 0, 0x40, 0, 0, 0, 1, 2, 3, 4] + [UInt8](repeating: 0, count: 1000)),
                ("a control frame with 200 bytes", masked(0x9, [UInt8](repeating: 1, count: 200))),
            ]
            for (what, bytes) in violations {
                let socket = try await offPool { try RawSocket.handshake(port: daemon.port, path: "/websocket", cookie: cookie, keepOpen: true) }
                #expect(socket.head.hasPrefix("HTTP/1.1 101"))
                _ = bytes.withUnsafeBytes { send(socket.fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
                let closed = try await offPool { () -> Bool in
                    let deadline = Date().addingTimeInterval(10)
                    while Date() < deadline {
                        if TCPClient.closedByPeer(socket.fd) { return true }
                        usleep(20_000)
                    }
                    return false
                }
                #expect(closed, "\(what): the socket stayed open")
                socket.close()
            }
            // Text the server has no use for (valid or not as UTF-8) is read and dropped.
            let chatty = try await offPool { try RawSocket.handshake(port: daemon.port, path: "/websocket", cookie: cookie, keepOpen: true) }
            defer { chatty.close() }
            for bytes in [masked(0x1, Array("{\"subscribe\": true}".utf8)), masked(0x1, [0xff, 0xfe, 0xc3])] {
                _ = bytes.withUnsafeBytes { send(chatty.fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
            }

            // The other sockets were untouched: both get the next change.
            let created = try await daemon.request("POST", "/api/2.0/drives/", body: #"{"name": "after", "size": 1073741824, "media": "disk"}"#)
            #expect(created.status == 201)
            let uuid = try #require(created.json?["objects"]?.arrayValue?.first?["uuid"]?.stringValue)
            for socket in [witness, chatty] {
                let text = try await offPool { try socket.readTextFrame(timeout: 10) }
                #expect(text.contains(uuid))
            }
            #expect(daemon.stop() == 0)
        }
}

/// Runs blocking socket calls on a dispatch queue, not on the cooperative pool (which other
/// tests, and in-process daemons, need). Not on a Foundation `Thread`: starting those while other
/// tests launch processes crashed `Process.run()` in CI (Foundation on Linux).
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global(qos: .userInitiated).async { continuation.resume(with: Result { try body() }) }
    }
}

/// A blocking TCP client speaking just enough of HTTP/1.1 and RFC 6455 to test the handshake,
/// read a frame, and take a 401 (URLSession on Linux does not return a 401 that carries a Digest
/// challenge to a session without a delegate).
final class RawSocket: @unchecked Sendable {
    let fd: Int32
    let head: String
    private var buffer: [UInt8]

    private init(fd: Int32, head: String, rest: [UInt8]) {
        self.fd = fd
        self.head = head
        self.buffer = rest
    }

    /// The status of `GET path` sent with `headers` on a connection of its own.
    static func status(port: Int, path: String, headers: [String: String]) throws -> Int {
        var request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        let head = try exchange(port: port, request: request + "\r\n", keepOpen: false).head
        guard let code = head.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else {
            throw TestFailure("no status line in \(head)")
        }
        return code
    }

    static func handshake(port: Int, path: String, cookie: String?, keepOpen: Bool = false) throws -> RawSocket {
        var request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        request += "Origin: http://127.0.0.1:\(port)\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        if let cookie { request += "Cookie: \(cookie)\r\n" }
        return try exchange(port: port, request: request + "\r\n", keepOpen: keepOpen)
    }

    static func exchange(port: Int, request: String, keepOpen: Bool) throws -> RawSocket {
        let fd = try TCPClient.connect(port: port)
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        _ = request.withCString { send(fd, $0, strlen($0), 0) }
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 { break }
            received += chunk[0..<n]
            if let end = Self.headEnd(received) {
                // A refusal closes after its body; read the rest of it.
                if !keepOpen {
                    while true {
                        let m = recv(fd, &chunk, chunk.count, 0)
                        if m <= 0 { break }
                        received += chunk[0..<m]
                    }
                    Glibc.close(fd)
                    return RawSocket(fd: -1, head: String(decoding: received, as: UTF8.self), rest: [])
                }
                return RawSocket(fd: fd, head: String(decoding: received[..<end], as: UTF8.self), rest: Array(received[end...]))
            }
        }
        if !keepOpen { Glibc.close(fd) }
        return RawSocket(fd: keepOpen ? fd : -1, head: String(decoding: received, as: UTF8.self), rest: [])
    }

    static func headEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for i in 0...(bytes.count - 4) where bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 {
            return i + 4
        }
        return nil
    }

    /// The next text frame's payload (server frames are not masked).
    func readTextFrame(timeout: Double) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if buffer.count >= 2 {
                let opcode = buffer[0] & 0x0F
                var length = Int(buffer[1] & 0x7F)
                var offset = 2
                if length == 126, buffer.count >= 4 {
                    length = Int(buffer[2]) << 8 | Int(buffer[3])
                    offset = 4
                } else if length == 127, buffer.count >= 10 {
                    length = (2..<10).reduce(0) { $0 << 8 | Int(buffer[$1]) }
                    offset = 10
                }
                if length < 126 || offset > 2, buffer.count >= offset + length {
                    let payload = Array(buffer[offset..<(offset + length)])
                    buffer.removeFirst(offset + length)
                    if opcode == 1 { return String(decoding: payload, as: UTF8.self) }
                    continue
                }
            }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 { throw TestFailure("socket closed or timed out before a frame") }
            buffer += chunk[0..<n]
        }
        throw TestFailure("no frame within \(timeout) s")
    }

    func close() {
        if fd >= 0 { Glibc.close(fd) }
    }
}
