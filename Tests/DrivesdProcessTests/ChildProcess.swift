import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A child process started with `posix_spawn`, for the process tests.
///
/// Not Foundation's `Process`: on this toolchain `Process.run()` copies the whole 256-byte
/// `d_name` of each `/proc/self/fd` entry while it looks for the highest open descriptor, and
/// reads past the end of glibc's directory buffer when an entry sits at its tail before an
/// unmapped page (swift-corelibs-foundation#5472, fixed upstream in 2026). With a thousand
/// descriptors open across the parallel tests, that crashed the whole test process with SIGSEGV
/// about one run in four.
final class ChildProcess: @unchecked Sendable {
    enum Output {
        /// `/dev/null`.
        case discard
        /// Appended to the file at this path (created when missing).
        case append(String)
        /// A descriptor of this process (dup'ed into the child).
        case descriptor(Int32)
    }

    let pid: pid_t
    private let lock = NSLock()
    private var finished: Int32?

    /// Starts `executable` with `arguments`; standard input is `/dev/null`. The child inherits
    /// no descriptor but 0, 1 and 2.
    init(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
        output: Output = .discard, errors: Output = .discard
    ) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        for (fd, target) in [(Int32(1), output), (Int32(2), errors)] {
            switch target {
            case .discard: posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", O_WRONLY, 0)
            case .append(let path): posix_spawn_file_actions_addopen(&actions, fd, path, O_WRONLY | O_APPEND | O_CREAT, 0o644)
            case .descriptor(let source): posix_spawn_file_actions_adddup2(&actions, source, fd)
            }
        }
        if let closeFrom = Self.closeFrom { _ = closeFrom(&actions, 3) }

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let environment = environment ?? ProcessInfo.processInfo.environment
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var pid = pid_t()
        let result = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard result == 0 else { throw TestFailure("posix_spawn \(executable): \(String(cString: strerror(result)))") }
        self.pid = pid
    }

    /// glibc ≥ 2.34's `posix_spawn_file_actions_addclosefrom_np`, which Swift's Glibc module does
    /// not export.
    private static let closeFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()

    var isRunning: Bool { reap(block: false) == nil }

    /// Waits for the child to end; returns its exit code, or the signal that ended it (as
    /// Foundation's `terminationStatus` does).
    @discardableResult
    func wait() -> Int32 { reap(block: true)! }

    private func reap(block: Bool) -> Int32? {
        lock.lock()
        defer { lock.unlock() }
        if let finished { return finished }
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, block ? 0 : WNOHANG)
            if r == pid { break }
            if r == 0 { return nil }
            if r < 0 && errno == EINTR { continue }
            finished = -1  // not our child any more: nothing to wait for
            return finished
        }
        // WIFEXITED / WEXITSTATUS / WTERMSIG, which Swift does not import (they are macros).
        finished = status & 0x7f == 0 ? (status >> 8) & 0xff : status & 0x7f
        return finished
    }

    /// Runs a command to completion: its exit code and its standard output (with standard error
    /// when `errors` is true).
    static func run(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil, errors: Bool = false
    ) throws -> (Int32, String) {
        var fds: [Int32] = [0, 0]
        // `pipe2` is not in Swift's Glibc module; children started meanwhile by other tests do not
        // keep the write end open either way (`closefrom` in every spawn).
        guard pipe(&fds) == 0 else { throw TestFailure("pipe: \(String(cString: strerror(errno)))") }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        let child: ChildProcess
        do {
            child = try ChildProcess(
                executable, arguments, environment: environment,
                output: .descriptor(fds[1]), errors: errors ? .descriptor(fds[1]) : .discard)
        } catch {
            close(fds[0])
            close(fds[1])
            throw error
        }
        close(fds[1])
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fds[0], $0.baseAddress!, $0.count) }
            if n > 0 {
                data += buffer[..<n]
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                break
            }
        }
        close(fds[0])
        return (child.wait(), String(decoding: data, as: UTF8.self))
    }
}
