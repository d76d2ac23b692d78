import DriveAPI
import DriveModel
import Foundation
import Logging
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// The few lines of the sd_notify protocol drivesd needs: a datagram to `$NOTIFY_SOCKET`.
enum SystemdNotifier {
    /// Sends `state` (e.g. `READY=1`) when running under a `Type=notify` unit; does nothing
    /// otherwise. Returns whether a message was sent.
    @discardableResult
    static func notify(_ state: String) -> Bool {
        guard let path = ProcessInfo.processInfo.environment["NOTIFY_SOCKET"], !path.isEmpty else { return false }
        var bytes = Array(path.utf8)
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }  // abstract socket namespace
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
        }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count)
        let sent = state.withCString { message in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, message, strlen(message), 0, $0, length)
                }
            }
        }
        return sent >= 0
    }
}

/// Tells systemd `STOPPING=1` as soon as a graceful shutdown begins.
struct SystemdStopNotifier: Service {
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        if SystemdNotifier.notify("STOPPING=1") { logger.info("notified systemd: STOPPING=1") }
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// Memory settings of the process.
enum Memory {
    /// Streams of drive content go through 1 MiB buffers on whichever threads run them. With
    /// glibc's default (a threshold that rises to the largest block freed), such buffers end up
    /// in per-thread arenas that keep the freed memory: the RSS grew by 30+ MiB during a 1 GiB
    /// download. A fixed threshold keeps blocks of 256 KiB and more out of the arenas, so they go
    /// back to the system when freed.
    ///
    /// Fixing that threshold also fixes the trim threshold at glibc's 128 KiB: an arena whose
    /// free top grew past it gave the pages back at once (`madvise`), and the next request faulted
    /// them in again. A profile of single creates spent 6% in `madvise` and 13% in page faults;
    /// with a 4 MiB trim threshold single creates went from 5,559 to 8,669 req/s and bulks of 100
    /// from 13.6k to 17.5k drives/s, for 9 MiB more resident memory.
    /// `DRIVESD_MALLOC_ARENAS` (benchmarks compare), or two a core.
    static var arenaLimit: Int? {
        if let text = ProcessInfo.processInfo.environment["DRIVESD_MALLOC_ARENAS"] { return Int(text).flatMap { $0 > 0 ? $0 : nil } }
        return 2 * max(1, ProcessInfo.processInfo.activeProcessorCount)
    }

    static func returnLargeBuffersToTheSystem() {
        // mallopt(M_MMAP_THRESHOLD = -3 / M_TRIM_THRESHOLD = -1, ...), looked up: Glibc's module
        // does not export malloc.h.
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return }
        let mallopt = unsafeBitCast(symbol, to: (@convention(c) (Int32, Int32) -> Int32).self)
        _ = mallopt(-3, 256 * 1024)
        _ = mallopt(-1, 4 * 1024 * 1024)
        // M_ARENA_MAX = -8: glibc gives each thread that contends an arena of its own, up to 8 a
        // core, and each keeps what was freed in it. Requests run on a handful of threads (the
        // event loops, Dispatch's workers, the writer): two arenas a core serve them.
        if let arenas = arenaLimit { _ = mallopt(-8, Int32(arenas)) }
    }
}

/// Gives freed memory back to the system once the daemon falls idle: glibc keeps what was
/// freed in its arenas (a 5-minute soak left 50 MiB above the baseline with everything deleted),
/// and `malloc_trim(0)` returns the free pages of every arena. Checked every 5 s; trims once per
/// idle period: no connection open, and at least one accepted since the last trim.
struct IdleMemoryTrimmer: Service {
    let connections: ConnectionCounter
    /// Frees other caches first (SQLite's, on every connection).
    var release: @Sendable () -> Void = {}
    var interval: Duration = .seconds(5)

    func run() async throws {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return }
        let trim = unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
        let connections = self.connections
        let interval = self.interval
        let release = self.release
        // Ends at once on a graceful shutdown (the sleep is cancelled), not after it.
        try? await cancelWhenGracefulShutdown {
            var trimmedAt = -1
            while true {
                try await Task.sleep(for: interval)
                let total = connections.total
                if connections.current == 0, total != trimmedAt {
                    // Off the event loops: releasing waits for connections in use.
                    _ = try? await Offload.run {
                        release()
                        _ = trim(0)
                    }
                    trimmedAt = total
                }
            }
        }
    }
}

enum FileLimit {
    /// Raises the soft limit of open files to the hard one, as Go's runtime does at start: every
    /// connection, database connection and content file is a descriptor, and systemd's default
    /// soft limit (1,024) let a thousand idle clients stop the daemon from accepting anyone.
    /// Returns (before, after), or nil when the limit could not be read.
    @discardableResult
    static func raiseToHard() -> (soft: UInt64, now: UInt64)? {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return nil }
        let before = UInt64(limit.rlim_cur)
        guard limit.rlim_cur < limit.rlim_max else { return (before, before) }
        limit.rlim_cur = limit.rlim_max
        guard setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return (before, before) }
        return (before, UInt64(limit.rlim_cur))
    }
}
