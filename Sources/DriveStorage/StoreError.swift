import DriveModel
import GRDB

/// Failures of the store that are not the client's fault. The API renders them as
/// CloudSigma `backend` (500) or `concurrency` (503) errors.
public enum StoreError: Error, CustomStringConvertible {
    case cannotOpen(path: String, reason: String)
    case migrationFailed(String)
    case database(DatabaseError)
    /// A compare-and-swap status update found the row changed under it.
    case conflict(String)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason): "cannot open database \(path): \(reason)"
        case .migrationFailed(let reason): "migration failed: \(reason)"
        case .database(let error): "database error: \(error.message ?? "\(error.resultCode)")"
        case .conflict(let what): "concurrent update: \(what)"
        }
    }

    /// The CloudSigma error a client sees.
    public var apiError: CloudSigmaError {
        switch self {
        case .conflict(let what):
            return CloudSigmaError(.concurrency, "Concurrent update of \(what); retry the request", retryAfter: 1)
        case .database(let error):
            switch error.resultCode {
            case .SQLITE_BUSY, .SQLITE_LOCKED:
                return CloudSigmaError(.concurrency, "The database is busy; retry the request", retryAfter: 1)
            case .SQLITE_FULL:
                return CloudSigmaError(.backend, "The storage backend is out of space")
            case .SQLITE_READONLY:
                return CloudSigmaError(.backend, "The storage backend is read-only")
            default:
                return CloudSigmaError(.backend, "Storage backend error")
            }
        case .cannotOpen, .migrationFailed:
            return CloudSigmaError(.backend, "Storage backend unavailable")
        }
    }
}
