import DriveStorage
import GRDB

extension StoreError {
    /// A failure of SQLite, in the store's terms.
    static func database(_ error: DatabaseError) -> StoreError {
        let failure: BackendFailure =
            switch error.resultCode {
            case .SQLITE_BUSY, .SQLITE_LOCKED: .busy
            case .SQLITE_FULL: .full
            case .SQLITE_READONLY: .readOnly
            default: .other
            }
        return .backend(failure, error.message ?? "\(error.resultCode)")
    }
}
