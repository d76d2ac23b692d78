import DriveModel

/// The drive status state machine (reference §3.10, decisions 1 and 4).
///
/// Pure: no I/O and no clock. Every (status, operation, context) answers an ``Outcome``: a
/// ``DrivePlan`` with everything the operation does (the status change, the transition to
/// schedule, the drive it creates, the job it starts, what a completion finishes), nothing to do,
/// or a refusal with the real API's message. The store carries plans out as compare-and-swap
/// updates guarded by the status the machine saw, and decides nothing itself.
public enum DriveLifecycle {
    /// What the machine needs to know about a drive.
    public struct Context: Sendable, Equatable {
        public var status: DriveStatus
        /// How many servers list the drive in their `drives`.
        public var mountCount: Int
        /// Whether one of those servers is running (or starting/stopping).
        public var onRunningServer: Bool
        /// Clones still copying from this drive (when it is `cloning_src`).
        public var activeClonesFromHere: Int
        /// Whether the drive's storage type is ephemeral (``DriveRules/isEphemeral(_:)``).
        public var ephemeral: Bool
        /// With ``Operation/complete``: the operation whose transition finished.
        public var completing: TransitionOperation?
        /// With ``Operation/resize``: the size asked for is the drive's own (the real API answers
        /// 202 and keeps the status, `[dump:ephemeral_drive_resize_action]`).
        public var keepsSize = false

        public init(
            status: DriveStatus, mountCount: Int = 0, onRunningServer: Bool = false, activeClonesFromHere: Int = 0,
            ephemeral: Bool = false, completing: TransitionOperation? = nil
        ) {
            self.status = status
            self.mountCount = mountCount
            self.onRunningServer = onRunningServer
            self.activeClonesFromHere = activeClonesFromHere
            self.ephemeral = ephemeral
            self.completing = completing
        }

        /// The idle status the drive belongs in when nothing is in progress.
        public var restingStatus: DriveStatus { mountCount > 0 ? .mounted : .unmounted }

        var isIdle: Bool { status == .unmounted || status == .mounted }
    }

    /// Everything that can happen to an existing drive.
    public enum Operation: String, Sendable, CaseIterable {
        /// PUT changing only `name`, `meta`, `tags`, `allow_multimount`.
        case editBasic = "edit"
        /// PUT changing `media` or `affinities` (applied at once).
        case editStructural = "edit_structural"
        /// Size growth through PUT (silently ignored where not allowed on a running server).
        case resizeByEdit = "resize_by_edit"
        /// `POST .../action/?do=resize` (fails loudly).
        case resize
        /// The drive as a clone source.
        case clone
        case delete
        case attach
        case detach
        case snapshot
        /// The worker finishing the transient status the drive is in.
        case complete
        /// Admin/fault path: the storage host went away.
        case markUnavailable = "mark_unavailable"
        /// Admin/fault path: the storage host came back.
        case markAvailable = "mark_available"
        /// The last range of an upload arrived: `uploading` ends, synchronously (decision 18).
        case finishUpload = "finish_upload"
        /// Reading the drive's bytes (`GET /drives/{uuid}/download/`): no status change.
        case download
    }

    /// A drive created to receive an upload (`/initupload/`, `/drives/upload/`): `uploading`
    /// until the request that writes its last range.
    public static let upload = DrivePlan(status: .uploading)

    /// A new drive: `creating` until its transition completes.
    public static let create = DrivePlan(status: .creating, schedule: .create)

    /// A library drive cloned into an account: the library drive has no status; only the new
    /// drive and its job exist.
    public static let libraryClone = DrivePlan(
        spawn: .init(status: .cloningDestination, schedule: .clone, job: .driveClone))

    /// What `operation` does to a drive in `context`.
    public static func plan(_ operation: Operation, in context: Context) -> Outcome<DrivePlan> {
        let status = context.status
        switch operation {
        case .editBasic:
            return .carryOut(DrivePlan())

        case .editStructural, .resizeByEdit:
            guard context.isIdle else {
                return .refuse(refusal(operation == .resizeByEdit ? "resize" : "edit", status, expected: [.unmounted, .mounted]))
            }
            // Ephemeral drives grow under a running server (the ephemeral-drives page); others
            // keep what cannot change while it runs.
            if context.onRunningServer && !(operation == .resizeByEdit && context.ephemeral) { return .ignore }
            return .carryOut(
                operation == .resizeByEdit ? DrivePlan(status: .resizing, schedule: .resize) : DrivePlan(applyStructural: true))

        case .resize:
            guard context.isIdle else { return .refuse(refusal("resize", status, expected: [.unmounted, .mounted])) }
            if context.onRunningServer && !context.ephemeral { return .refuse(runningServerRefusal("resize")) }
            if context.keepsSize { return .carryOut(DrivePlan(applyStructural: !context.onRunningServer)) }
            return .carryOut(DrivePlan(status: .resizing, applyStructural: !context.onRunningServer, schedule: .resize))

        case .clone:
            if context.ephemeral { return .refuse(DriveRules.ephemeralCloneRefusal) }
            switch status {
            case .unmounted, .mounted, .cloningSource:
                return .carryOut(
                    DrivePlan(status: .cloningSource, spawn: .init(status: .cloningDestination, schedule: .clone, job: .driveClone)))
            default:
                return .refuse(refusal("clone", status, expected: [.unmounted, .mounted]))
            }

        case .delete:
            // An upload may be abandoned (pycloudsigma's clean-up deletes `uploading` drives).
            if status == .uploading { return .carryOut(DrivePlan(remove: true)) }
            guard context.isIdle else { return .refuse(refusal("delete", status, expected: [.unmounted, .mounted])) }
            if context.onRunningServer { return .refuse(runningServerRefusal("delete")) }
            return .carryOut(DrivePlan(remove: true))

        case .snapshot:
            // S3: unmounted or mounted (on any server); never an ephemeral drive.
            if context.ephemeral { return .refuse(DriveRules.ephemeralSnapshotRefusal) }
            guard context.isIdle else { return .refuse(refusal("snapshot", status, expected: [.unmounted, .mounted])) }
            return .carryOut(DrivePlan())

        case .attach:
            guard context.isIdle else { return .refuse(refusal("attach", status, expected: [.unmounted])) }
            return .carryOut(DrivePlan(status: .mounted))

        case .detach:
            // `mountCount` counts the mounts left. A drive in a transient status keeps it; its
            // completion picks the resting status then.
            return .carryOut(DrivePlan(status: status == .mounted ? context.restingStatus : nil))

        case .complete:
            let completion = DrivePlan.Completion(
                applyPayload: context.completing == .resize, finishJob: context.completing == .clone,
                completeSource: context.completing == .clone)
            switch status {
            case .creating, .uploading, .copying, .staging, .resizing, .cloningDestination:
                return .carryOut(DrivePlan(status: context.restingStatus, completion: completion))
            case .cloningSource:
                return .carryOut(
                    DrivePlan(status: context.activeClonesFromHere > 0 ? nil : context.restingStatus, completion: completion))
            case .unmounted, .mounted, .unavailable:
                return .refuse(refusal("complete", status, expected: [.creating, .resizing, .cloningSource, .cloningDestination]))
            }

        case .finishUpload:
            guard status == .uploading else { return .refuse(refusal("finish the upload of", status, expected: [.uploading])) }
            return .carryOut(DrivePlan(status: context.restingStatus))

        case .download:
            if context.ephemeral { return .refuse(DriveRules.ephemeralDownloadRefusal) }
            switch status {
            case .unmounted, .mounted, .cloningSource:
                return .carryOut(DrivePlan())
            default:
                return .refuse(refusal("download", status, expected: [.unmounted, .mounted, .cloningSource]))
            }

        case .markUnavailable:
            guard context.isIdle else { return .refuse(refusal("make unavailable", status, expected: [.unmounted, .mounted])) }
            return .carryOut(DrivePlan(status: .unavailable))

        case .markAvailable:
            guard status == .unavailable else { return .refuse(refusal("make available", status, expected: [.unavailable])) }
            return .carryOut(DrivePlan(status: context.restingStatus))
        }
    }

    /// A PUT: the basic fields always apply; structural changes and growth apply, are ignored
    /// on a running server, or refuse the whole request (reference §3.6).
    public static func planEdit(structural: Bool, grows: Bool, in context: Context) -> Outcome<DrivePlan> {
        var plan: DrivePlan
        switch self.plan(.editBasic, in: context) {
        case .carryOut(let basic): plan = basic
        case .ignore: return .ignore
        case .refuse(let error): return .refuse(error)
        }
        if structural {
            switch self.plan(.editStructural, in: context) {
            case .carryOut: plan.applyStructural = true
            case .ignore: break
            case .refuse(let error): return .refuse(error)
            }
        }
        if grows {
            switch self.plan(.resizeByEdit, in: context) {
            case .carryOut(let resize):
                plan.status = resize.status
                plan.schedule = resize.schedule
            case .ignore: break
            case .refuse(let error): return .refuse(error)
            }
        }
        return .carryOut(plan)
    }

    public typealias Decision = StatusDecision<DriveStatus>

    /// What `operation` does to the status of a drive in `context` (the plan's status).
    public static func decide(_ operation: Operation, in context: Context) -> Decision {
        plan(operation, in: context).decision(\.status)
    }

    /// `Cannot resize drive in state "mounted". Drive should be in state "unmounted"` (decision 1).
    public static func refusal(_ verb: String, _ status: DriveStatus, expected: [DriveStatus]) -> CloudSigmaError {
        let should =
            expected.count == 1
            ? expected[0].rawValue
            : "[" + expected.map { "'\($0.rawValue)'" }.joined(separator: ", ") + "]"
        return .permission("Cannot \(verb) drive in state \"\(status.rawValue)\". Drive should be in state \"\(should)\"")
    }

    static func runningServerRefusal(_ verb: String) -> CloudSigmaError {
        .permission(
            "Cannot \(verb) drive in state \"mounted\" on a running server. Drive should be in state \"unmounted\" or mounted on stopped servers only"
        )
    }
}
