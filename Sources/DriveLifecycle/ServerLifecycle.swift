import DriveModel

/// The server status machine (reference §6.2), as far as mounting drives needs it:
/// `stopped → starting → running → stopping → stopped`.
public enum ServerLifecycle {
    public enum Operation: String, Sendable, CaseIterable {
        case start, stop, complete, delete
        /// PUT changing anything beyond `name`, `meta`, `tags`.
        case editStructural = "edit_structural"
    }

    public enum Decision: Sendable, Equatable {
        case proceed(to: ServerStatus?)
        case ignore
        case reject(CloudSigmaError)
    }

    public static func decide(_ operation: Operation, in status: ServerStatus) -> Decision {
        switch operation {
        case .start:
            return status == .stopped ? .proceed(to: .starting) : .reject(refusal("start", status, should: "stopped"))
        case .stop:
            return status == .running ? .proceed(to: .stopping) : .reject(refusal("stop", status, should: "['started', 'running_legacy']"))
        case .complete:
            switch status {
            case .starting: return .proceed(to: .running)
            case .stopping: return .proceed(to: .stopped)
            default: return .reject(refusal("complete", status, should: "['starting', 'stopping']"))
            }
        case .delete:
            return status == .stopped ? .proceed(to: nil) : .reject(refusal("delete", status, should: "stopped"))
        case .editStructural:
            return status == .stopped ? .proceed(to: nil) : .ignore
        }
    }

    /// The real API's wording, which calls `running` "started" internally (reference §2.3).
    static func refusal(_ verb: String, _ status: ServerStatus, should: String) -> CloudSigmaError {
        let shown = status == .running ? "started" : status.rawValue
        return .permission("Cannot \(verb) guest in state \"\(shown)\". Guest should be in state \"\(should)\"")
    }
}
