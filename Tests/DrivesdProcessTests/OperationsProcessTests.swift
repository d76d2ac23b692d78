import DriveModel
import DriveStore
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension ProcessSuites {
    /// The daemon as a service: signals, systemd notification, the command line around it.
    @Suite("drivesd operations", .serialized)
    struct OperationsProcessTests {
        @Test("SIGTERM under load: exit 0, and every acknowledged create is there after a restart")
        func sigtermUnderLoad() async throws {
            let daemon = try DaemonProcess()
            try daemon.addUser()
            try await daemon.start(timeScale: 0)
            let acknowledged = LockedList()
            let writers = Task {
                await withTaskGroup(of: Void.self) { group in
                    for writer in 0..<8 {
                        group.addTask {
                            for i in 0..<400 {
                                guard
                                    let reply = try? await daemon.request(
                                        "POST", "/api/2.0/drives/", body: #"{"name": "w\#(writer)-\#(i)", "size": 1073741824, "media": "disk"}"#)
                                else { return }  // the server went away
                                if reply.status == 201, let uuid = reply.json?["objects"]?.arrayValue?.first?["uuid"]?.stringValue {
                                    acknowledged.append(uuid)
                                }
                            }
                        }
                    }
                }
            }
            let deadline = Date().addingTimeInterval(60)
            while acknowledged.count < 50 {
                let running = daemon.isRunning
                guard Date() < deadline, running else {
                    daemon.killHard()
                    await writers.value
                    throw TestFailure("only \(acknowledged.count) creates acknowledged (drivesd \(running ? "still running after 60 s" : "exited"))")
                }
                try await Task.sleep(for: .milliseconds(10))
            }
            let status = daemon.stop()
            await writers.value
            #expect(status == 0)
            let acked = acknowledged.values
            #expect(acked.count >= 50)
            try await daemon.start(timeScale: 0)
            let listed = try await daemon.request("GET", "/api/2.0/drives/?limit=0&fields=uuid")
            let present = Set(listed.json?["objects"]?.arrayValue?.compactMap { $0["uuid"]?.stringValue } ?? [])
            let lost = acked.filter { !present.contains($0) }
            #expect(lost.isEmpty, "\(lost.count) acknowledged creates lost")
            #expect(daemon.stop() == 0)
        }

        @Test("Type=notify: READY=1 once the socket is bound, STOPPING=1 on SIGTERM")
        func systemdNotify() async throws {
            let socketPath = FileManager.default.temporaryDirectory.appendingPathComponent("notify-\(UUID().uuidString.prefix(8))").path
            let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
            #expect(fd >= 0)
            defer {
                close(fd)
                unlink(socketPath)
            }
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(socketPath.utf8)) }
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            #expect(bound == 0)
            var timeout = timeval(tv_sec: 10, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            func receive() -> String {
                var buffer = [UInt8](repeating: 0, count: 256)
                let n = recv(fd, &buffer, buffer.count, 0)
                return n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : ""
            }

            let daemon = try DaemonProcess(environment: ["NOTIFY_SOCKET": socketPath])
            try daemon.addUser()
            try await daemon.start()
            #expect(receive() == "READY=1")
            // READY means served: the API answers at once.
            #expect(try await daemon.request("GET", "/api/2.0/drives/").status == 200)
            #expect(daemon.stop() == 0)
            #expect(receive() == "STOPPING=1")
        }

        @Test("the unit passes systemd-analyze verify")
        func unitVerifies() throws {
            let analyze = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].first { FileManager.default.isExecutableFile(atPath: $0) }
            let analyzer = try #require(analyze, "systemd-analyze is needed (Debian package systemd)")
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            let unit = try String(contentsOf: root.appendingPathComponent("systemd/drivesd.service"), encoding: .utf8)
            #expect(unit.contains("Type=notify"))
            #expect(unit.contains("DynamicUser=yes"))
            #expect(unit.contains("StateDirectory=drivesd"))
            // Point ExecStart at the binary just built, so verify can find it.
            let binary = try DaemonProcess.binary.path
            let local = unit.replacingOccurrences(of: "/usr/local/bin/drivesd ", with: "\(binary) ")
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("unit-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let path = dir.appendingPathComponent("drivesd.service")
            try local.write(to: path, atomically: true, encoding: .utf8)
            let (status, output) = try ChildProcess.run(analyzer, ["verify", path.path], errors: true)
            #expect(status == 0, "\(output)")
        }

        @Test("check-config: the shipped file is valid; a bad one gets every error explained, typos with a hint")
        func checkConfig() throws {
            let daemon = try DaemonProcess()
            // The environment overrides the file; keep only the file's word here.
            daemon.environment["DRIVESD_LOG_LEVEL"] = nil
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            let (ok, out) = try daemon.run(["check-config", "--config", root.appendingPathComponent("config/drivesd.yaml").path])
            #expect(ok == 0, "\(out)")
            #expect(out.contains("configuration OK"))
            let bad = FileManager.default.temporaryDirectory.appendingPathComponent("bad-\(UUID().uuidString).yaml")
            defer { try? FileManager.default.removeItem(at: bad) }
            try "http:\n  port: 99999\nlog:\n  level: loud\nstorage:\n  types: [dssd, tape]\n".write(to: bad, atomically: true, encoding: .utf8)
            let (failed, explained) = try daemon.run(["check-config", "--config", bad.path])
            #expect(failed != 0)
            #expect(explained.contains("3 errors"), "\(explained)")
            #expect(explained.contains("http.port must be between 0 and 65535"))
            #expect(explained.contains("log.level must be one of"))
            #expect(explained.contains("tape is not a CloudSigma storage type"))
            try "http:\n  idle_timeout_seconds: -1\n  tls:\n    certificate: /nonexistent/server.pem\n".write(
                to: bad, atomically: true, encoding: .utf8)
            let (tlsFailed, tlsExplained) = try daemon.run(["check-config", "--config", bad.path])
            #expect(tlsFailed != 0)
            #expect(tlsExplained.contains("2 errors"), "\(tlsExplained)")
            #expect(tlsExplained.contains("http.tls.certificate and http.tls.key go together"))
            #expect(tlsExplained.contains("http.idle_timeout_seconds must be"))
            try "htpp:\n  port: 9000\n".write(to: bad, atomically: true, encoding: .utf8)
            let (typo, hint) = try daemon.run(["check-config", "--config", bad.path])
            #expect(typo != 0)
            #expect(hint.contains("htpp.port: unknown key (did you mean http.port?)"), "\(hint)")

            // Every problem in one pass: an unknown key does not hide the wrong values, nor the
            // other way round.
            try "htpp:\n  port: 9000\nhttp:\n  port: \"9000\"\ntime_scale: -1\nstorage:\n  default_type: tape\n".write(
                to: bad, atomically: true, encoding: .utf8)
            let (all, everything) = try daemon.run(["check-config", "--config", bad.path])
            #expect(all == 1)
            let problems = everything.split(separator: "\n").filter { $0.hasPrefix("  - ") }.map { String($0.dropFirst(4)) }
            #expect(
                problems == [
                    "htpp.port: unknown key (did you mean http.port?)", "http.port must be an integer",
                    "time_scale must be a number between 0.0 and 1000.0",
                    "storage.default_type tape is not among storage.types (dssd, nvme, zadara, local_nvme)",
                ], "\(everything)")
            #expect(everything.hasPrefix("configuration has 4 errors:"), "\(everything)")
            // serve reads the configuration the same way: it refuses to start, naming all four.
            let (refused, said) = try daemon.run(["serve", "--config", bad.path, "--database", daemon.databasePath], errors: true)
            #expect(refused != 0)
            for problem in problems { #expect(said.contains(problem), "serve did not name \(problem): \(said)") }
        }

        @Test("backup while serving, restore into a fresh database: the same drives, with their bytes")
        func backupRestore() async throws {
            let daemon = try DaemonProcess()
            try daemon.addUser()
            try await daemon.start(timeScale: 0)
            for i in 0..<5 {
                _ = try await daemon.request("POST", "/api/2.0/drives/", body: #"{"name": "b\#(i)", "size": 1073741824, "media": "disk"}"#)
            }
            let image = Data((0..<6_000_000).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) })
            let upload = try await daemon.raw(
                "POST", "/api/2.0/drives/upload/", body: image, headers: ["Content-Type": "application/octet-stream"])
            #expect(upload.status == 200)
            let uploaded = String(decoding: upload.body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            let backupPath = daemon.databasePath + ".backup"
            defer { try? FileManager.default.removeItem(atPath: backupPath) }
            let (code, out) = try daemon.run(["backup", backupPath, "--database", daemon.databasePath])
            #expect(code == 0, "\(out)")
            // The content leaves the daemon after the backup: the backup keeps its own copy.
            #expect(try await daemon.request("DELETE", "/api/2.0/drives/\(uploaded)/").status == 204)
            try await Task.sleep(for: .milliseconds(300))
            #expect(daemon.stop() == 0)

            let other = try DaemonProcess()
            let (restored, message) = try other.run(["restore", backupPath, "--database", other.databasePath])
            #expect(restored == 0, "\(message)")
            let (verified, report) = try other.run(["verify", "--database", other.databasePath])
            #expect(verified == 0, "\(report)")
            #expect(report.contains("0 damaged, 0 unreferenced"), "\(report)")
            try await other.start(timeScale: 0)
            let list = try await other.request("GET", "/api/2.0/drives/detail/?limit=0")
            #expect(
                list.json?["objects"]?.arrayValue?.compactMap { $0["name"]?.stringValue }.filter { $0.hasPrefix("b") }
                    == (0..<5).map { "b\($0)" })
            let download = try await other.raw(
                "GET", "/api/2.0/drives/\(uploaded)/download/", headers: ["Range": "bytes=0-\(image.count - 1)"])
            #expect(download.status == 206)
            #expect(sameBytes(download.body, image))
            #expect(other.stop() == 0)
            let (refused, _) = try other.run(["restore", "/nonexistent.sqlite", "--database", other.databasePath])
            #expect(refused != 0)
        }

        @Test("log.format json: one JSON object per line, with the request's method, path, status and id")
        func jsonLogs() async throws {
            let logPath = FileManager.default.temporaryDirectory.appendingPathComponent("log-\(UUID().uuidString).txt").path
            defer { try? FileManager.default.removeItem(atPath: logPath) }
            let daemon = try DaemonProcess(environment: ["DRIVESD_LOG_FORMAT": "json", "DRIVESD_LOG_LEVEL": "info"])
            daemon.stderrPath = logPath
            try daemon.addUser()
            try await daemon.start()
            _ = try await daemon.request("GET", "/api/2.0/drives/")
            #expect(daemon.stop() == 0)
            let lines = try String(contentsOfFile: logPath, encoding: .utf8).split(separator: "\n")
            #expect(!lines.isEmpty)
            let parsed = try lines.map { try JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)) }
            let request = parsed.first { $0["path"] == .string("/api/2.0/drives/") }
            #expect(request?["method"] == .string("GET"))
            #expect(request?["status"] == .string("200"))
            #expect(request?["request_id"]?.stringValue?.isEmpty == false)
            #expect(request?["duration_ms"] != nil)
        }

        @Test("text logs (the default) leave the request path but lose no line: every request's line is there after a clean stop")
        func bufferedTextLogs() async throws {
            let logPath = FileManager.default.temporaryDirectory.appendingPathComponent("log-\(UUID().uuidString).txt").path
            defer { try? FileManager.default.removeItem(atPath: logPath) }
            let daemon = try DaemonProcess(environment: ["DRIVESD_LOG_LEVEL": "info"])
            daemon.stderrPath = logPath
            try daemon.addUser()
            try await daemon.start()
            let ids = (0..<400).map { "log-check-\($0)" }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for slice in 0..<8 {
                    group.addTask {
                        for id in ids[(slice * 50)..<(slice * 50 + 50)] {
                            let reply = try await daemon.raw("GET", "/api/2.0/drives/?limit=1", headers: ["X-Request-ID": id])
                            #expect(reply.status == 200)
                        }
                    }
                }
                try await group.waitForAll()
            }
            // The stop comes right after the last answer: lines still buffered must reach the log.
            #expect(daemon.stop() == 0)
            let text = try String(contentsOfFile: logPath, encoding: .utf8)
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            #expect(lines.last == "", "the log ends with a partial line")
            let requestLines = lines.filter { $0.contains("request_id=log-check-") }
            #expect(requestLines.count == ids.count)
            for id in ids {
                #expect(requestLines.filter { $0.contains("request_id=\(id) ") }.count == 1, "\(id)")
            }
            // swift-log's text format: time, level, label, metadata, source, message.
            let sample = try #require(requestLines.first)
            #expect(sample.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} info drivesd : "#, options: .regularExpression) != nil, "\(sample)")
            #expect(sample.hasSuffix("GET /api/2.0/drives/ 200"), "\(sample)")
        }
    }
}

/// A list filled from several tasks.
final class LockedList: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    func append(_ item: String) { lock.withLock { items.append(item) } }
    var count: Int { lock.withLock { items.count } }
    var values: [String] { lock.withLock { items } }
}
