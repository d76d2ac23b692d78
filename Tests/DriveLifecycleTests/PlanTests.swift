import DriveLifecycle
import DriveModel
import Testing

/// The plans behind the decisions: what besides the status each operation does, walked over
/// every status and mount situation without I/O.
@Suite("Lifecycle plans")
struct PlanTests {
    typealias Op = DriveLifecycle.Operation

    static func contexts() -> [DriveLifecycle.Context] {
        DriveStatus.allCases.flatMap { status in
            [(0, false), (1, false), (1, true), (2, false)].map { count, running in
                DriveLifecycle.Context(status: status, mountCount: count, onRunningServer: running)
            }
        }
    }

    @Test("a plan schedules a transition exactly when it moves the drive into a transient status", arguments: Op.allCases)
    func scheduleMatchesStatus(op: Op) {
        for context in Self.contexts() {
            guard case .carryOut(let plan) = DriveLifecycle.plan(op, in: context) else { continue }
            switch plan.status {
            case .resizing?: #expect(plan.schedule == .resize, "\(op) in \(context.status)")
            case .cloningSource? where op == .clone: #expect(plan.schedule == nil)
            default: #expect(plan.schedule == nil, "\(op) in \(context.status)")
            }
            #expect(plan.remove == (op == .delete), "\(op) in \(context.status)")
            #expect((plan.spawn != nil) == (op == .clone), "\(op) in \(context.status)")
            #expect(plan.applyStructural == (op == .editStructural || op == .resize), "\(op) in \(context.status)")
            #expect((plan.completion != nil) == (op == .complete), "\(op) in \(context.status)")
        }
    }

    @Test("a clone spawns a cloning_dst drive with a clone transition and a drive_clone job")
    func cloneSpawns() throws {
        let plan = try #require(try DriveLifecycle.plan(.clone, in: .init(status: .mounted, mountCount: 1)).plan())
        #expect(plan.status == .cloningSource)
        #expect(plan.spawn == .init(status: .cloningDestination, schedule: .clone, job: .driveClone))
        #expect(DriveLifecycle.libraryClone.spawn == plan.spawn)
        #expect(DriveLifecycle.libraryClone.status == nil)
        #expect(DriveLifecycle.create == DrivePlan(status: .creating, schedule: .create))
    }

    @Test("ephemeral drives refuse to be cloned, whatever their status")
    func ephemeralClone() {
        for status in DriveStatus.allCases {
            guard case .refuse(let error) = DriveLifecycle.plan(.clone, in: .init(status: status, ephemeral: true)) else {
                Issue.record("clone of an ephemeral drive in \(status) was not refused")
                continue
            }
            #expect(error.status == 403)
            #expect(error.message == "Ephemeral (local_nvme) drives cannot be cloned")
        }
        #expect(DriveRules.isEphemeral("local_nvme"))
        #expect(!DriveRules.isEphemeral("dssd"))
    }

    @Test("a completion finishes what its transition started: a resize's size, a clone's job and source")
    func completions() throws {
        let resize = try #require(try DriveLifecycle.plan(.complete, in: .init(status: .resizing, completing: .resize)).plan())
        #expect(resize.completion == .init(applyPayload: true))
        let clone = try #require(
            try DriveLifecycle.plan(.complete, in: .init(status: .cloningDestination, completing: .clone)).plan())
        #expect(clone.status == .unmounted)
        #expect(clone.completion == .init(finishJob: true, completeSource: true))
        let create = try #require(try DriveLifecycle.plan(.complete, in: .init(status: .creating, completing: .create)).plan())
        #expect(create.completion == .init())
    }

    @Test("a PUT: basic fields always; structural and growth applied, ignored on a running server, or refused")
    func edits() throws {
        let idle = DriveLifecycle.Context(status: .unmounted)
        #expect(try DriveLifecycle.planEdit(structural: false, grows: false, in: idle).plan() == DrivePlan())
        #expect(
            try DriveLifecycle.planEdit(structural: true, grows: true, in: idle).plan()
                == DrivePlan(status: .resizing, applyStructural: true, schedule: .resize))
        let running = DriveLifecycle.Context(status: .mounted, mountCount: 1, onRunningServer: true)
        #expect(try DriveLifecycle.planEdit(structural: true, grows: true, in: running).plan() == DrivePlan())
        guard case .refuse(let error) = DriveLifecycle.planEdit(structural: false, grows: true, in: .init(status: .creating))
        else {
            Issue.record("growing a creating drive was not refused")
            return
        }
        #expect(error.message == #"Cannot resize drive in state "creating". Drive should be in state "['unmounted', 'mounted']""#)
        // Nothing to change but the basics: no refusal even in a transient status.
        #expect(try DriveLifecycle.planEdit(structural: false, grows: false, in: .init(status: .creating)).plan() == DrivePlan())
    }

    @Test("resize action: the same size keeps the status; ephemeral drives resize under a running server, others are refused")
    func resizes() throws {
        var same = DriveLifecycle.Context(status: .mounted, mountCount: 1)
        same.keepsSize = true
        #expect(try DriveLifecycle.plan(.resize, in: same).plan() == DrivePlan(applyStructural: true))
        #expect(
            try DriveLifecycle.plan(.resize, in: .init(status: .unmounted)).plan()
                == DrivePlan(status: .resizing, applyStructural: true, schedule: .resize))
        let ephemeralRunning = DriveLifecycle.Context(status: .mounted, mountCount: 1, onRunningServer: true, ephemeral: true)
        #expect(try DriveLifecycle.plan(.resize, in: ephemeralRunning).plan() == DrivePlan(status: .resizing, schedule: .resize))
        #expect(try DriveLifecycle.planEdit(structural: false, grows: true, in: ephemeralRunning).plan() == DrivePlan(status: .resizing, schedule: .resize))
        var ephemeralSame = ephemeralRunning
        ephemeralSame.keepsSize = true
        #expect(try DriveLifecycle.plan(.resize, in: ephemeralSame).plan() == DrivePlan())
        let running = DriveLifecycle.Context(status: .mounted, mountCount: 1, onRunningServer: true)
        guard case .refuse = DriveLifecycle.plan(.resize, in: running) else {
            Issue.record("a resize under a running server was not refused")
            return
        }
    }

    @Test("server plans: start and stop schedule their transitions; completion sets or clears active_since")
    func serverPlans() throws {
        #expect(try ServerLifecycle.plan(.start, in: .stopped).plan() == ServerPlan(status: .starting, schedule: .start))
        #expect(try ServerLifecycle.plan(.stop, in: .running).plan() == ServerPlan(status: .stopping, schedule: .stop))
        #expect(try ServerLifecycle.plan(.complete, in: .starting).plan() == ServerPlan(status: .running, activeSince: true))
        #expect(try ServerLifecycle.plan(.complete, in: .stopping).plan() == ServerPlan(status: .stopped, activeSince: false))
        #expect(try ServerLifecycle.plan(.delete, in: .stopped).plan() == ServerPlan(remove: true))
        #expect(ServerLifecycle.plan(.editStructural, in: .running) == .ignore)
        for operation in TransitionOperation.allCases {
            let expected: ResourceKind =
                switch operation {
                case .start, .stop: .server
                case .snapshot: .snapshot
                case .create, .resize, .clone: .drive
                }
            #expect(operation.resource == expected)
        }
    }

    @Test("the rules: sizes within the type's limits, never shrinking, clones at least the source")
    func rules() throws {
        let catalogue = StorageCatalogue()
        #expect(throws: CloudSigmaError.self) { try DriveRules.checkCreate(size: 1, storageType: "dssd", catalogue: catalogue) }
        #expect(throws: CloudSigmaError.self) { try DriveRules.checkCreate(size: 1 << 30, storageType: "tape", catalogue: catalogue) }
        try DriveRules.checkCreate(size: 1 << 30, storageType: "dssd", catalogue: catalogue)
        let drive = Drive(uuid: "u", owner: "o", name: "n", size: 2 << 30, media: .disk, storageType: "dssd", status: .unmounted)
        #expect(throws: CloudSigmaError.self) {
            try DriveRules.checkUpdate(current: drive, size: 1 << 30, storageType: nil, catalogue: catalogue)
        }
        #expect(throws: CloudSigmaError.self) {
            try DriveRules.checkUpdate(current: drive, size: 2 << 30, storageType: "nvme", catalogue: catalogue)
        }
        try DriveRules.checkUpdate(current: drive, size: 3 << 30, storageType: "dssd", catalogue: catalogue)
        let limits = try DriveRules.limits("dssd", in: catalogue)
        #expect(try DriveRules.cloneSize(nil, sourceSize: 1 << 20, limits: limits) == limits.minSize)
        #expect(try DriveRules.cloneSize(nil, sourceSize: 2 << 30, limits: limits) == 2 << 30)
        #expect(throws: CloudSigmaError.self) { try DriveRules.cloneSize(1 << 30, sourceSize: 2 << 30, limits: limits) }
    }
}
