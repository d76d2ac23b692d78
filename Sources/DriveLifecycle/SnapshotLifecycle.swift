import DriveModel

/// The snapshot status machine (decision 16, S3, S7, S8): `creating → available` through the
/// transition pipeline. Pure, like ``DriveLifecycle``: every (operation, status) answers a plan
/// or the real API's refusal.
public enum SnapshotLifecycle {
    public enum Operation: String, Sendable, CaseIterable {
        /// The worker finishing `creating`.
        case complete
        /// `DELETE /snapshots/{uuid}/` (a drive's delete removes its snapshots in any status).
        case delete
        /// `POST /snapshots/{uuid}/action/?do=clone`: a new drive from the snapshot's bytes.
        case clone
        /// PUT of `name`, `meta`, `tags`: allowed in every status (S6).
        case edit
    }

    /// A new snapshot: `creating` until its transition completes. Whether the drive allows it is
    /// ``DriveLifecycle/plan(_:in:)`` with `.snapshot`.
    public static let create = SnapshotPlan(status: .creating, schedule: .snapshot)

    public static func plan(_ operation: Operation, in status: SnapshotStatus) -> Outcome<SnapshotPlan> {
        switch operation {
        case .complete:
            guard status == .creating else { return .refuse(refusal("complete", status, should: .creating)) }
            return .carryOut(SnapshotPlan(status: .available))
        case .delete:
            guard status == .available else { return .refuse(refusal("delete", status, should: .available)) }
            return .carryOut(SnapshotPlan(remove: true))
        case .clone:
            guard status == .available else { return .refuse(refusal("clone", status, should: .available)) }
            return .carryOut(SnapshotPlan(spawn: .init(status: .cloningDestination, schedule: .clone, job: .driveClone)))
        case .edit:
            return .carryOut(SnapshotPlan())
        }
    }

    public typealias Decision = StatusDecision<SnapshotStatus>

    public static func decide(_ operation: Operation, in status: SnapshotStatus) -> Decision {
        plan(operation, in: status).decision(\.status)
    }

    /// `Cannot delete snapshot in state "creating". Snapshot should be in state "available"`.
    static func refusal(_ verb: String, _ status: SnapshotStatus, should: SnapshotStatus) -> CloudSigmaError {
        .permission("Cannot \(verb) snapshot in state \"\(status.rawValue)\". Snapshot should be in state \"\(should.rawValue)\"")
    }
}

/// Everything an operation does to a snapshot.
public struct SnapshotPlan: Sendable, Equatable {
    /// The snapshot's status afterwards; nil keeps it.
    public var status: SnapshotStatus?
    /// The transition to schedule on the snapshot.
    public var schedule: TransitionOperation?
    /// The snapshot is deleted.
    public var remove: Bool
    /// A clone: the drive it creates (and its job). The snapshot's status does not change.
    public var spawn: DrivePlan.Spawn?

    public init(
        status: SnapshotStatus? = nil, schedule: TransitionOperation? = nil, remove: Bool = false, spawn: DrivePlan.Spawn? = nil
    ) {
        self.status = status
        self.schedule = schedule
        self.remove = remove
        self.spawn = spawn
    }
}
