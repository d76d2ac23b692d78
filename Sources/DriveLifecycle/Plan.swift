import DriveModel

/// The state machine's answer to an operation: a plan to carry out in full, nothing to do (the
/// request is accepted and the resource left as it is: reference §3.6's "silently ignored"), or a
/// refusal with the real API's message.
public enum Outcome<Plan: Sendable & Equatable>: Sendable, Equatable {
    case carryOut(Plan)
    case ignore
    case refuse(CloudSigmaError)

    /// The plan, nil when there is nothing to do; throws the refusal.
    public func plan() throws -> Plan? {
        switch self {
        case .carryOut(let plan): plan
        case .ignore: nil
        case .refuse(let error): throw error
        }
    }
}

/// An outcome reduced to the status it leads to.
public enum StatusDecision<Status: Sendable & Equatable>: Sendable, Equatable {
    /// Go ahead; `to` is the new status (nil: the status does not change).
    case proceed(to: Status?)
    /// Accept the request but leave the resource as it is (reference §3.6: silently ignored).
    case ignore
    /// Refuse: `403 permission` with the real API's message.
    case reject(CloudSigmaError)
}

extension Outcome {
    /// The outcome reduced to the status its plan leads to (`status` reads it from the plan).
    public func decision<Status>(_ status: (Plan) -> Status?) -> StatusDecision<Status> {
        switch self {
        case .carryOut(let plan): .proceed(to: status(plan))
        case .ignore: .ignore
        case .refuse(let error): .reject(error)
        }
    }
}

/// The jobs an operation can start.
public enum JobKind: String, Sendable, CaseIterable {
    case driveClone = "drive_clone"
}

/// Everything one drive operation does. The store carries a plan out inside one transaction, as
/// compare-and-swap updates guarded by the status the machine saw; it decides nothing itself.
public struct DrivePlan: Sendable, Equatable {
    /// The drive's status afterwards; nil keeps it (the write is still guarded by it).
    public var status: DriveStatus?
    /// Whether the request's structural fields (media, affinities, iops) are applied.
    public var applyStructural: Bool
    /// The transition to schedule on the drive; the worker completes it.
    public var schedule: TransitionOperation?
    /// The drive is deleted.
    public var remove: Bool
    /// A drive the operation creates (a clone's destination).
    public var spawn: Spawn?
    /// What the completion of a transition does besides the status.
    public var completion: Completion?

    public init(
        status: DriveStatus? = nil, applyStructural: Bool = false, schedule: TransitionOperation? = nil,
        remove: Bool = false, spawn: Spawn? = nil, completion: Completion? = nil
    ) {
        self.status = status
        self.applyStructural = applyStructural
        self.schedule = schedule
        self.remove = remove
        self.spawn = spawn
        self.completion = completion
    }

    /// A new drive: its first status, its transition and the job that tracks it.
    public struct Spawn: Sendable, Equatable {
        public var status: DriveStatus
        public var schedule: TransitionOperation
        public var job: JobKind?

        public init(status: DriveStatus, schedule: TransitionOperation, job: JobKind?) {
            self.status = status
            self.schedule = schedule
            self.job = job
        }
    }

    /// The rest of a finished transition.
    public struct Completion: Sendable, Equatable {
        /// Apply the transition's payload (a resize's new size).
        public var applyPayload: Bool
        /// Mark the transition's job `success`.
        public var finishJob: Bool
        /// Then complete the clone's source (it leaves `cloning_src` once no other clone copies).
        public var completeSource: Bool

        public init(applyPayload: Bool = false, finishJob: Bool = false, completeSource: Bool = false) {
            self.applyPayload = applyPayload
            self.finishJob = finishJob
            self.completeSource = completeSource
        }
    }
}

/// Everything one server operation does (see ``DrivePlan``).
public struct ServerPlan: Sendable, Equatable {
    /// The server's status afterwards; nil keeps it.
    public var status: ServerStatus?
    /// Whether the request's structural fields (cpu, mem, vnc password, the other keys) are applied.
    public var applyStructural: Bool
    /// The transition to schedule on the server.
    public var schedule: TransitionOperation?
    /// The server is deleted.
    public var remove: Bool
    /// `active_since`: set to now (true) or cleared (false) with the status; nil leaves it.
    public var activeSince: Bool?

    public init(
        status: ServerStatus? = nil, applyStructural: Bool = false, schedule: TransitionOperation? = nil,
        remove: Bool = false, activeSince: Bool? = nil
    ) {
        self.status = status
        self.applyStructural = applyStructural
        self.schedule = schedule
        self.remove = remove
        self.activeSince = activeSince
    }
}
