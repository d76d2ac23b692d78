import DriveLifecycle
import DriveModel
import Foundation
import Testing

@Suite("Snapshot state machine")
struct SnapshotLifecycleTests {
    enum Expect: Equatable {
        case to(SnapshotStatus), same, reject
    }

    /// S7, S8, S6 and the pipeline's completion, over every (operation, status).
    static func expected(_ op: SnapshotLifecycle.Operation, _ status: SnapshotStatus) -> Expect {
        switch op {
        case .complete: status == .creating ? .to(.available) : .reject
        case .delete: status == .available ? .same : .reject
        case .clone: status == .available ? .same : .reject
        case .edit: .same
        }
    }

    @Test("every (operation, status) pair answers as the table says", arguments: SnapshotLifecycle.Operation.allCases)
    func table(op: SnapshotLifecycle.Operation) {
        for status in SnapshotStatus.allCases {
            let got: Expect =
                switch SnapshotLifecycle.decide(op, in: status) {
                case .proceed(let to?): .to(to)
                case .proceed(nil): .same
                case .ignore: .same
                case .reject: .reject
                }
            #expect(got == Self.expected(op, status), "\(op.rawValue) in \(status.rawValue)")
        }
    }

    @Test("a new snapshot is creating with a snapshot transition; a clone spawns a cloning_dst drive with a drive_clone job")
    func plans() throws {
        #expect(SnapshotLifecycle.create == SnapshotPlan(status: .creating, schedule: .snapshot))
        #expect(TransitionOperation.snapshot.resource == .snapshot)
        let clone = try #require(try SnapshotLifecycle.plan(.clone, in: .available).plan())
        #expect(clone.spawn == DrivePlan.Spawn(status: .cloningDestination, schedule: .clone, job: .driveClone))
        #expect(clone.status == nil && !clone.remove)
        #expect(try SnapshotLifecycle.plan(.delete, in: .available).plan()?.remove == true)
    }

    @Test("refusals are 403 permission with the real API's shape of message")
    func refusals() {
        guard case .reject(let error) = SnapshotLifecycle.decide(.delete, in: .creating) else {
            Issue.record("delete of a creating snapshot was not refused")
            return
        }
        #expect(error.status == 403)
        #expect(error.message == #"Cannot delete snapshot in state "creating". Snapshot should be in state "available""#)
    }

    @Test("which drives can be snapshotted (S3): unmounted and mounted, on any server; never ephemeral ones")
    func driveSide() {
        for status in DriveStatus.allCases {
            for running in [false, true] {
                let context = DriveLifecycle.Context(
                    status: status, mountCount: status == .mounted ? 1 : 0, onRunningServer: running && status == .mounted)
                let allowed = status == .unmounted || status == .mounted
                #expect(
                    (DriveLifecycle.decide(.snapshot, in: context) == .proceed(to: nil)) == allowed, "\(status.rawValue) running: \(running)")
            }
            let ephemeral = DriveLifecycle.Context(status: status, ephemeral: true)
            if case .proceed = DriveLifecycle.decide(.snapshot, in: ephemeral) {
                Issue.record("an ephemeral drive in \(status.rawValue) may be snapshotted")
            }
        }
    }

    @Test("names and timestamps as the real API writes them")
    func naming() {
        let date = Date(timeIntervalSince1970: 1_391_096_130.756919)  // 2014-01-30 15:35:30.756919 UTC
        #expect(
            SnapshotNaming.defaultName(drive: "7a555723-d73c-45cf-9f18-21f571626d2b", at: date)
                == "7a555723-d73c-45cf-9f18-21f571626d2b__2014-01-30__15_35_30")
        #expect(SnapshotNaming.timestamp(date) == "2014-01-30 15:35:30.756919+00:00")
    }
}
