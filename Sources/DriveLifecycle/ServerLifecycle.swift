import DriveModel

/// The server status machine (reference §6.2), as far as mounting drives needs it:
/// `stopped → starting → running → stopping → stopped`. Answers plans like ``DriveLifecycle``.
public enum ServerLifecycle {
    public enum Operation: String, Sendable, CaseIterable {
        case start, stop, complete, delete
        /// PUT changing anything beyond `name`, `meta`, `tags`.
        case editStructural = "edit_structural"
    }

    /// A new server: stopped.
    public static let create = ServerPlan(status: .stopped)

    /// What `operation` does to a server in `status`.
    public static func plan(_ operation: Operation, in status: ServerStatus) -> Outcome<ServerPlan> {
        switch operation {
        case .start:
            guard status == .stopped else { return .refuse(refusal("start", status, should: "stopped")) }
            return .carryOut(ServerPlan(status: .starting, schedule: .start))
        case .stop:
            guard status == .running else { return .refuse(refusal("stop", status, should: "['started', 'running_legacy']")) }
            return .carryOut(ServerPlan(status: .stopping, schedule: .stop))
        case .complete:
            switch status {
            case .starting: return .carryOut(ServerPlan(status: .running, activeSince: true))
            case .stopping: return .carryOut(ServerPlan(status: .stopped, activeSince: false))
            default: return .refuse(refusal("complete", status, should: "['starting', 'stopping']"))
            }
        case .delete:
            guard status == .stopped else { return .refuse(refusal("delete", status, should: "stopped")) }
            return .carryOut(ServerPlan(remove: true))
        case .editStructural:
            return status == .stopped ? .carryOut(ServerPlan(applyStructural: true)) : .ignore
        }
    }

    public typealias Decision = StatusDecision<ServerStatus>

    /// The plan reduced to the status it leads to.
    public static func decide(_ operation: Operation, in status: ServerStatus) -> Decision {
        plan(operation, in: status).decision(\.status)
    }

    /// The real API's wording, which calls `running` "started" internally (reference §2.3).
    static func refusal(_ verb: String, _ status: ServerStatus, should: String) -> CloudSigmaError {
        let shown = status == .running ? "started" : status.rawValue
        return .permission("Cannot \(verb) guest in state \"\(shown)\". Guest should be in state \"\(should)\"")
    }
}
