import DriveModel
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension ProcessSuites {
    /// Connections a client opens and then neglects, and the credentials drivesd refuses to expose.
    @Suite("Connections and listening", .serialized)
    struct ConnectionProcessTests {
        /// Long enough for this process to open its 1,100 connections while the router suites
        /// run beside it on the two cores (CI took 12–15 s to, where 12 s was the limit).
        static let idleSeconds = 24.0

        static func int(_ value: JSONValue) -> Int? {
            if case .int(let n) = value { return Int(n) }
            return nil
        }

        @Test("under a 1,024 soft file limit, 1,100 half-open connections: requests are still answered, and every idle one is closed after the timeout")
        func halfOpenConnections() async throws {
            // This process holds the client side of every connection.
            var limit = rlimit()
            getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            try #require(limit.rlim_max >= 2400, "the hard limit of open files (\(limit.rlim_max)) is too low for this test")
            limit.rlim_cur = limit.rlim_max
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)

            let log = FileManager.default.temporaryDirectory.appendingPathComponent("drivesd-conn-\(UUID().uuidString).log").path
            defer { try? FileManager.default.removeItem(atPath: log) }
            let daemon = try DaemonProcess(environment: [
                "DRIVESD_HTTP_IDLE_TIMEOUT_SECONDS": String(Int(Self.idleSeconds)), "DRIVESD_LOG_LEVEL": "info",
            ])
            daemon.softFileLimit = 1024
            daemon.stderrPath = log
            try daemon.addUser()
            try await daemon.start(timeScale: 0)
            let started = try String(contentsOfFile: log, encoding: .utf8)
            #expect(started.contains("soft_at_start=1024"), "drivesd did not start under the 1,024 limit: \(started.suffix(2000))")

            // 1,100 connections, each with half a request head; then one that dribbles its head a byte
            // at a time, and one that finished a request and keeps the connection.
            let opened = Date()
            var halfOpen: [Int32] = []
            defer { for fd in halfOpen { close(fd) } }
            for _ in 0..<1100 {
                let fd = try TCPClient.connect(port: daemon.port)
                halfOpen.append(fd)
                #expect(TCPClient.send(fd, "GET /api/2.0/drives/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"))
            }
            let slow = try TCPClient.connect(port: daemon.port)
            defer { close(slow) }
            let kept = try TCPClient.connect(port: daemon.port)
            defer { close(kept) }
            #expect(TCPClient.send(kept, "GET /_drivesd/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
            #expect(TCPClient.readSome(kept, timeout: 5).hasPrefix("HTTP/1.1 200"))

            // Beyond 1,024 descriptors, a normal request is answered, and the daemon counts them all.
            let list = try await daemon.request("GET", "/api/2.0/drives/")
            #expect(list.status == 200)
            let ready = try await daemon.request("GET", "/_drivesd/ready")
            #expect(ready.status == 200)
            let open = ready.json?["connections"].flatMap(Self.int) ?? 0
            #expect(open >= 1102, "ready counts \(open) open connections")
            #expect(Date().timeIntervalSince(opened) < Self.idleSeconds, "the test was too slow to hold every connection at once")

            // Nothing is closed early; everything silent is closed after the timeout, the dribbler too.
            var closed = Set<Int32>()
            let all = halfOpen + [slow, kept]
            var firstClose: Date?
            while closed.count < all.count && Date().timeIntervalSince(opened) < Self.idleSeconds + 10 {
                _ = TCPClient.send(slow, "G")
                for fd in all where !closed.contains(fd) && TCPClient.closedByPeer(fd) {
                    closed.insert(fd)
                    firstClose = firstClose ?? Date()
                }
                try await Task.sleep(for: .milliseconds(300))
            }
            #expect(closed.count == all.count, "\(all.count - closed.count) idle connections still open")
            #expect(closed.contains(slow), "a head sent a byte at a time kept its connection")
            #expect(closed.contains(kept), "an idle keep-alive connection was not closed")
            if let firstClose { #expect(firstClose.timeIntervalSince(opened) >= Self.idleSeconds - 1) }

            let after = try await daemon.request("GET", "/_drivesd/ready")
            #expect((after.json?["connections"].flatMap(Self.int) ?? .max) < 10)
            let metrics = try await daemon.raw(
                "GET", "/_drivesd/metrics", headers: ["Authorization": "Basic " + Data("admin:admin".utf8).base64EncodedString()],
                authenticated: false)
            let text = String(decoding: metrics.body, as: UTF8.self)
            let line = text.split(separator: "\n").first { $0.hasPrefix("drivesd_http_connections_closed_before_request_total ") }
            #expect((line.flatMap { Int($0.split(separator: " ")[1]) } ?? 0) >= 1101, "\(line ?? "no such metric")")
            #expect(daemon.stop() == 0)
        }

        @Test("SIGTERM with connections still waiting for their first request: they close at once, the daemon exits 0 without waiting out the shutdown timeout")
        func shutdownClosesWaitingConnections() async throws {
            let daemon = try DaemonProcess()  // idle timeout 60 s, shutdown timeout 20 s: the defaults
            try daemon.addUser()
            try await daemon.start(timeScale: 0)
            var sockets: [Int32] = []
            defer { for fd in sockets { close(fd) } }
            for _ in 0..<50 {
                let fd = try TCPClient.connect(port: daemon.port)
                sockets.append(fd)
                TCPClient.send(fd, "GET /api/2.0/drives/ HTTP/1.1\r\n")
            }
            #expect(try await daemon.request("GET", "/api/2.0/drives/").status == 200)
            let stopping = Date()
            #expect(daemon.stop() == 0)
            #expect(Date().timeIntervalSince(stopping) < 10, "the shutdown waited for the silent connections")
            #expect(sockets.allSatisfy { TCPClient.closedByPeer($0) })
        }

        @Test("/locations/ names the address the client reached (its Host), or the listener when the Host is not a plain host[:port]")
        func locationsFollowTheHost() async throws {
            let daemon = try DaemonProcess()
            try daemon.addUser()
            try await daemon.start(timeScale: 0)
            func endpoint(host: String) throws -> String? {
                let fd = try TCPClient.connect(port: daemon.port)
                defer { close(fd) }
                TCPClient.send(fd, "GET /api/2.0/locations/ HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n\r\n")
                var answer = ""
                let deadline = Date().addingTimeInterval(10)
                while Date() < deadline, !answer.contains("}]}") {
                    let more = TCPClient.readSome(fd, timeout: 1)
                    if more.isEmpty && TCPClient.closedByPeer(fd) { break }
                    answer += more
                }
                guard let start = answer.range(of: "\r\n\r\n")?.upperBound,
                    let json = try? JSONDecoder().decode(JSONValue.self, from: Data(answer[start...].utf8))
                else { return nil }
                return json["objects"]?.arrayValue?.first?["api_endpoint"]?.stringValue
            }
            #expect(try endpoint(host: "drives.test:8123") == "http://drives.test:8123/api/2.0/")
            #expect(try endpoint(host: "localhost:\(daemon.port)") == "http://localhost:\(daemon.port)/api/2.0/")
            #expect(try endpoint(host: "evil.test/x?y") == "http://127.0.0.1:\(daemon.port)/api/2.0/")
            #expect(daemon.stop() == 0)
        }

        @Test("beyond loopback, drivesd refuses to start with the default admin or demo password, naming the key to set")
        func refusesDefaultCredentialsBeyondLoopback() async throws {
            let log = FileManager.default.temporaryDirectory.appendingPathComponent("drivesd-listen-\(UUID().uuidString).log").path
            defer { try? FileManager.default.removeItem(atPath: log) }

            // Every address: both defaults named.
            let open = try DaemonProcess(environment: ["DRIVESD_HTTP_HOST": "0.0.0.0"])
            open.stderrPath = log
            await #expect(throws: (any Error).self) { try await open.start() }
            #expect(open.exitStatusAfterFailedStart() != 0)
            var said = try String(contentsOfFile: log, encoding: .utf8)
            #expect(said.contains("refusing to listen on 0.0.0.0"))
            #expect(said.contains("admin.password"))
            #expect(said.contains("demo.password"))

            // The demo account exists with its default password: setting demo.password no longer
            // changes it, and the error says how to.
            let local = try DaemonProcess()
            #expect(try local.run(["user", "add", "demo@drivesd.local", "--password", "demo", "--database", local.databasePath]).0 == 0)
            try FileManager.default.removeItem(atPath: log)
            let again = try DaemonProcess(environment: [
                "DRIVESD_HTTP_HOST": "0.0.0.0", "DRIVESD_ADMIN_PASSWORD": "a-real-secret", "DRIVESD_DEMO_PASSWORD": "another",
            ])
            again.databasePathOverride = local.databasePath
            again.stderrPath = log
            await #expect(throws: (any Error).self) { try await again.start() }
            #expect(again.exitStatusAfterFailedStart() != 0)
            said = try String(contentsOfFile: log, encoding: .utf8)
            #expect(!said.contains("admin.password"))
            #expect(said.contains("drivesd user password demo@drivesd.local"))

            // Both changed: it serves on every address.
            let (code, _) = try again.run([
                "user", "password", "demo@drivesd.local", "--password", "another", "--database", local.databasePath,
            ])
            #expect(code == 0)
            let health = try DaemonProcess(environment: ["DRIVESD_HTTP_HOST": "0.0.0.0", "DRIVESD_ADMIN_PASSWORD": "a-real-secret"])
            health.databasePathOverride = local.databasePath
            try health.addUser()
            try await health.start()
            #expect(try await health.request("GET", "/_drivesd/health").status == 200)
            #expect(health.stop() == 0)
        }
    }
}

/// Plain TCP clients that do what HTTP clients should not.
enum TCPClient {
    static func connect(port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw TestFailure("connect: \(reason)")
        }
        return fd
    }

    @discardableResult
    static func send(_ fd: Int32, _ text: String) -> Bool {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) } == bytes.count
    }

    /// What arrives within `timeout` seconds (up to 64 KiB).
    static func readSome(_ fd: Int32, timeout: Double) -> String {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, Int32(timeout * 1000)) > 0 else { return "" }
        var buffer = [UInt8](repeating: 0, count: 65536)
        let n = read(fd, &buffer, buffer.count)
        return n > 0 ? String(decoding: buffer[..<n], as: UTF8.self) : ""
    }

    /// Whether the peer closed the connection (end of file or reset), without waiting; any bytes
    /// waiting are read and dropped.
    static func closedByPeer(_ fd: Int32) -> Bool {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, 0) > 0 else { return false }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
        if n == 0 { return true }
        if n < 0 { return errno != EAGAIN && errno != EWOULDBLOCK }
        return false
    }
}
