import Dispatch

/// Runs slow, synchronous work (a password hash, hashing a file) on a Dispatch worker thread
/// and resumes the caller with its result. The caller's thread serves requests: with the event
/// loops as Swift's global executor (``http.handlers_on_event_loops``), it also serves other
/// connections' I/O, which must not wait behind a 100 ms computation.
public enum Offload {
    public static func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await run(on: DispatchQueue.global(qos: .userInitiated), work)
    }

    /// Runs `work` on `queue`. Work that blocks (on the disk, or waiting for other Dispatch work)
    /// belongs on a serial queue of its own: those target Dispatch's overcommitting pool, which
    /// always finds a thread, where the global queues have about one thread a core and a blocked
    /// one holds its place (on Linux, until a monitor notices, about a second later).
    public static func run<T: Sendable>(on queue: DispatchQueue, _ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try work() })
            }
        }
    }
}
