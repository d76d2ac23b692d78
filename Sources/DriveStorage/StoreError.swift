import DriveModel

/// Failures of the store that are not the client's fault. The API renders them as
/// CloudSigma `backend` (500) or `concurrency` (503) errors. Every storage implementation maps
/// its engine's errors onto these.
public enum StoreError: Error, CustomStringConvertible {
    case cannotOpen(path: String, reason: String)
    case migrationFailed(String)
    /// The storage engine failed: what kind of failure, and the engine's own words.
    case backend(BackendFailure, String)
    /// A compare-and-swap status update found the row changed under it.
    case conflict(String)

    /// What kind of failure the storage engine reported.
    public enum BackendFailure: Sendable, Equatable {
        /// Locked by another writer past the busy timeout: retry.
        case busy
        /// Out of disk space.
        case full
        /// The storage is read-only.
        case readOnly
        case other
    }

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason): "cannot open database \(path): \(reason)"
        case .migrationFailed(let reason): "migration failed: \(reason)"
        case .backend(_, let message): "database error: \(message)"
        case .conflict(let what): "concurrent update: \(what)"
        }
    }

    /// The CloudSigma error a client sees.
    public var apiError: CloudSigmaError {
        switch self {
        case .conflict(let what):
            return CloudSigmaError(.concurrency, "Concurrent update of \(what); retry the request", retryAfter: 1)
        case .backend(.busy, _):
            return CloudSigmaError(.concurrency, "The database is busy; retry the request", retryAfter: 1)
        case .backend(.full, _):
            return CloudSigmaError(.backend, "The storage backend is out of space")
        case .backend(.readOnly, _):
            return CloudSigmaError(.backend, "The storage backend is read-only")
        case .backend(.other, _):
            return CloudSigmaError(.backend, "Storage backend error")
        case .cannotOpen, .migrationFailed:
            return CloudSigmaError(.backend, "Storage backend unavailable")
        }
    }
}
