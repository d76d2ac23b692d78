import Dispatch

/// Runs slow, synchronous work (a password hash, hashing a file) on a Dispatch worker thread
/// and resumes the caller with its result. The caller's thread serves requests: with the event
/// loops as Swift's global executor (``http.handlers_on_event_loops``), it also serves other
/// connections' I/O, which must not wait behind a 100 ms computation.
public enum Offload {
    public static func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async {
                continuation.resume(with: Result { try work() })
            }
        }
    }
}
