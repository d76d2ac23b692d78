import DriveModel
import Foundation
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A real `drivesd` process on a temp database, driven over HTTP on loopback.
///
/// `serve` binds port 0 (a port the system picks) and writes the port it bound to a file
/// (`--port-file`), which `start` reads: a port is never picked here, released and bound later
/// by the daemon, so two suites running at once can never talk to each other's daemon. Each
/// start binds a new port.
final class DaemonProcess: @unchecked Sendable {
    /// Where the database lives: a temp file, unless a test points it elsewhere.
    var databasePathOverride: String?
    var databasePath: String { databasePathOverride ?? defaultDatabasePath }
    private let defaultDatabasePath: String
    /// The port the running daemon bound (read from its port file by `start`; 0 before).
    private(set) var port: Int = 0
    /// Where `serve` writes the port it bound.
    private var portFile: String { (defaultDatabasePath as NSString).deletingLastPathComponent + "/port" }
    var environment: [String: String]
    private(set) var process: ChildProcess?
    /// Where `serve`'s standard error goes (nil: discarded).
    var stderrPath: String?
    /// The soft limit of open files `serve` starts under (through `prlimit`); nil: this process's.
    var softFileLimit: Int?
    let email = "proc@example.com"
    let password = "proc-secret"

    init(environment: [String: String] = [:]) throws {
        // A directory per daemon: the data directory defaults to `drivesd-data` beside the database.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("drivesd-proc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defaultDatabasePath = directory.appendingPathComponent("drivesd.sqlite").path
        var env = ProcessInfo.processInfo.environment
        env["DRIVESD_AUTH_PBKDF2_ITERATIONS"] = "1000"
        env["DRIVESD_LOG_LEVEL"] = "warning"
        for (k, v) in environment { env[k] = v }
        self.environment = env
    }

    deinit {
        if let process, process.isRunning {
            kill(process.pid, SIGKILL)
            process.wait()
        }
        try? FileManager.default.removeItem(atPath: (defaultDatabasePath as NSString).deletingLastPathComponent)
    }

    /// The binary SwiftPM built beside this test bundle.
    static var binary: URL {
        get throws {
            let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            for dir in [beside, beside.deletingLastPathComponent()] {
                let candidate = dir.appendingPathComponent("drivesd")
                if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            }
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent()
            let fallback = root.appendingPathComponent(".build/debug/drivesd")
            guard FileManager.default.isExecutableFile(atPath: fallback.path) else {
                throw TestFailure("drivesd binary not found beside \(beside.path) nor at \(fallback.path)")
            }
            return fallback
        }
    }

    /// Runs a CLI command to completion; returns (exit code, stdout, and stderr with `errors`).
    func run(_ arguments: [String], errors: Bool = false) throws -> (Int32, String) {
        try ChildProcess.run(try Self.binary.path, arguments, environment: environment, errors: errors)
    }

    func addUser() throws {
        let (code, out) = try run(["user", "add", email, "--password", password, "--database", databasePath])
        guard code == 0 else { throw TestFailure("user add failed: \(code) \(out)") }
    }

    /// Starts `drivesd serve` on a port of the system's choosing and waits until it answers.
    func start(timeScale: Double = 1) async throws {
        try? FileManager.default.removeItem(atPath: portFile)
        port = 0
        var command = [
            try Self.binary.path, "serve", "--database", databasePath, "--port", "0", "--port-file", portFile,
            "--time-scale", String(timeScale),
        ]
        if let softFileLimit { command = ["/usr/bin/prlimit", "--nofile=\(softFileLimit):"] + command }
        let process = try ChildProcess(
            command[0], Array(command.dropFirst()), environment: environment, errors: stderrPath.map { .append($0) } ?? .discard)
        self.process = process
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if port == 0, let text = try? String(contentsOfFile: portFile, encoding: .utf8) {
                guard let bound = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)), bound > 0 else {
                    throw TestFailure("drivesd wrote \(text.debugDescription) to its port file")
                }
                port = bound
            }
            // The health route needs no credentials (a 401 with a challenge can hold URLSession
            // far past its timeout).
            if port != 0, let reply = try? await request("GET", "/_drivesd/health"), reply.status == 200 { return }
            if !process.isRunning { throw TestFailure("drivesd exited at start") }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestFailure(port == 0 ? "drivesd wrote no port file within 30 s" : "drivesd did not answer on port \(port)")
    }

    /// After `start` threw: waits for the process to exit (killing it after 5 s) and returns its
    /// exit status.
    func exitStatusAfterFailedStart() -> Int32 {
        guard let process else { return -1 }
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.pid, SIGKILL) }
        self.process = nil
        return process.wait()
    }

    /// Whether the process started by `start` is still running.
    var isRunning: Bool { process?.isRunning ?? false }

    /// SIGKILL: no chance to clean up.
    func killHard() {
        guard let process else { return }
        kill(process.pid, SIGKILL)
        process.wait()
        self.process = nil
    }

    /// SIGTERM; returns the exit status.
    func stop() -> Int32 {
        guard let process else { return -1 }
        kill(process.pid, SIGTERM)
        self.process = nil
        return process.wait()
    }

    struct Reply {
        let status: Int
        let json: JSONValue?
    }

    /// A JSON request as the daemon's user, or with `credentials` (the admin's, say).
    func request(
        _ method: String, _ path: String, body: String? = nil, credentials: String? = nil, timeout: Double = 10
    ) async throws -> Reply {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = method
        request.timeoutInterval = timeout
        request.setValue("Basic " + Data((credentials ?? "\(email):\(password)").utf8).base64EncodedString(), forHTTPHeaderField: "Authorization")
        if let body {
            request.httpBody = Data(body.utf8)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        return Reply(status: status, json: try? JSONDecoder().decode(JSONValue.self, from: data))
    }

    /// A request with a raw body (uploads) or answering raw bytes (downloads).
    func raw(
        _ method: String, _ path: String, body: Data? = nil, headers: [String: String] = [:], authenticated: Bool = true
    ) async throws -> (status: Int, body: Data, headers: [String: String]) {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = method
        request.timeoutInterval = 30
        if authenticated {
            request.setValue("Basic " + Data("\(email):\(password)".utf8).base64EncodedString(), forHTTPHeaderField: "Authorization")
        }
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        request.httpBody = body
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as? HTTPURLResponse
        var fields: [String: String] = [:]
        for (name, value) in http?.allHeaderFields ?? [:] { fields["\(name)".lowercased()] = "\(value)" }
        return (http?.statusCode ?? 0, data, fields)
    }

    func status(_ uuid: String) async throws -> String? {
        try await request("GET", "/api/2.0/drives/\(uuid)/").json?["status"]?.stringValue
    }

    /// Polls until the drive shows `status` (or the time runs out); returns the last status seen.
    func wait(_ uuid: String, for status: String, seconds: Double = 15) async throws -> String? {
        let deadline = Date().addingTimeInterval(seconds)
        var last: String?
        while Date() < deadline {
            last = try await self.status(uuid)
            if last == status { return last }
            try await Task.sleep(for: .milliseconds(25))
        }
        return last
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Byte-for-byte equality as one Bool: `#expect(a == b)` on megabytes makes Swift Testing render
/// and diff both arrays when it fails, which takes minutes (a failing test must fail, not hang).
func sameBytes<A: Collection<UInt8>, B: Collection<UInt8>>(_ a: A, _ b: B) -> Bool {
    a.count == b.count && a.elementsEqual(b)
}

/// The same for two `Data` (memcmp: the generic comparison costs a second per 6 MiB in a debug
/// build).
func sameBytes(_ a: Data, _ b: Data) -> Bool {
    a == b
}
