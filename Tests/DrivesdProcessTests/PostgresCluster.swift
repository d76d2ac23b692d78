import DriveStorage
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A private PostgreSQL cluster for the tests (`scripts/pg-cluster`): started once in a
/// temporary directory by the first test that asks, stopped when the test process exits. Each
/// test takes a database of its own (`freshDatabase`), so tests run in parallel without seeing
/// each other's rows. Needs PostgreSQL's binaries (Debian's `postgresql`, which `.ci/run`
/// installs), and nothing running.
enum PostgresCluster {
    /// The cluster's directory and its `drivesd` URL, or why it could not start.
    static let shared: Result<(directory: String, url: String), TestFailure> = start()

    /// A new, empty database owned by the `drivesd` role, as a URL.
    static func freshDatabase() throws -> String {
        let (_, url) = try shared.get()
        let name = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(20)
        let (code, out) = try ChildProcess.run(
            "/usr/bin/env", ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", "CREATE DATABASE \(name)"], errors: true)
        guard code == 0 else { throw TestFailure("CREATE DATABASE \(name): \(out)") }
        guard url.hasSuffix("/drivesd") else { throw TestFailure("unexpected cluster URL \(url)") }
        return url.dropLast("drivesd".count) + name
    }

    /// The address of `url`.
    static func address(_ url: String) throws -> PostgresAddress {
        guard case .postgres(let address) = try DatabaseLocation(parsing: url) else { throw TestFailure("not a PostgreSQL URL") }
        return address
    }

    /// Runs `sql` with psql on `url` and returns its unaligned output (for checking rows directly).
    static func psql(_ url: String, _ sql: String) throws -> String {
        let (code, out) = try ChildProcess.run(
            "/usr/bin/env", ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", url, "-c", sql], errors: true)
        guard code == 0 else { throw TestFailure("psql: \(out)") }
        return out.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/pg-cluster").path

    private static func start() -> Result<(directory: String, url: String), TestFailure> {
        let directory = NSTemporaryDirectory() + "drivesd-pg-\(getpid())-\(UUID().uuidString.prefix(8))"
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let (code, out) = try ChildProcess.run(script, ["start", directory], errors: true)
            guard code == 0, let url = out.split(separator: "\n").last.map(String.init), url.hasPrefix("postgres://") else {
                return .failure(TestFailure("scripts/pg-cluster start failed (is Debian's postgresql installed?): \(out)"))
            }
            started = strdup(directory)
            atexit {
                guard let directory = PostgresCluster.started.map({ String(cString: $0) }) else { return }
                _ = try? ChildProcess.run(PostgresCluster.script, ["stop", directory])
                try? FileManager.default.removeItem(atPath: directory)
            }
            return .success((directory, url))
        } catch let error as TestFailure {
            return .failure(error)
        } catch {
            return .failure(TestFailure("scripts/pg-cluster: \(error)"))
        }
    }

    /// The directory of the running cluster, for the exit handler.
    nonisolated(unsafe) private static var started: UnsafeMutablePointer<CChar>?
}
