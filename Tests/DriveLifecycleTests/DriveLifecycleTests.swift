import DriveLifecycle
import DriveModel
import Testing

/// Every (status, operation) pair of the reference's legal-operation table (§3.10), with the
/// mount situation that changes the answer.
@Suite("Drive state machine")
struct DriveLifecycleTests {
    typealias Op = DriveLifecycle.Operation

    enum Expect: Equatable, CustomStringConvertible {
        case to(DriveStatus)
        case same
        case ignore
        case reject

        var description: String {
            switch self {
            case .to(let s): "→\(s.rawValue)"
            case .same: "proceed"
            case .ignore: "ignore"
            case .reject: "403"
            }
        }
    }

    enum Mount: CaseIterable {
        case none, stopped, running

        var context: (count: Int, running: Bool) {
            switch self {
            case .none: (0, false)
            case .stopped: (1, false)
            case .running: (1, true)
            }
        }
    }

    static func expected(_ op: Op, _ status: DriveStatus, _ mount: Mount) -> Expect {
        let idle = status == .unmounted || status == .mounted
        let resting: DriveStatus = mount == .none ? .unmounted : .mounted
        switch op {
        case .editBasic:
            return .same
        case .editStructural:
            return idle ? (mount == .running ? .ignore : .same) : .reject
        case .resizeByEdit:
            return idle ? (mount == .running ? .ignore : .to(.resizing)) : .reject
        case .resize:
            return idle && mount != .running ? .to(.resizing) : .reject
        case .clone:
            return idle || status == .cloningSource ? .to(.cloningSource) : .reject
        case .delete:
            // An upload may be abandoned (decision 18, U7).
            if status == .uploading { return .same }
            return idle && mount != .running ? .same : .reject
        case .finishUpload:
            return status == .uploading ? .to(resting) : .reject
        case .download:
            return idle || status == .cloningSource ? .same : .reject
        case .snapshot:
            return idle ? .same : .reject
        case .attach:
            return idle ? .to(.mounted) : .reject
        case .detach:
            return status == .mounted ? .to(resting) : .same
        case .complete:
            switch status {
            case .unmounted, .mounted, .unavailable: return .reject
            default: return .to(resting)
            }
        case .markUnavailable:
            return idle ? .to(.unavailable) : .reject
        case .markAvailable:
            return status == .unavailable ? .to(resting) : .reject
        }
    }

    static func actual(_ decision: DriveLifecycle.Decision) -> Expect {
        switch decision {
        case .proceed(let to?): .to(to)
        case .proceed(nil): .same
        case .ignore: .ignore
        case .reject: .reject
        }
    }

    @Test("every (status, operation, mount) triple answers as the table says", arguments: Op.allCases)
    func table(op: Op) {
        for status in DriveStatus.allCases {
            for mount in Mount.allCases {
                let ctx = DriveLifecycle.Context(
                    status: status, mountCount: mount.context.count, onRunningServer: mount.context.running)
                let got = Self.actual(DriveLifecycle.decide(op, in: ctx))
                #expect(got == Self.expected(op, status, mount), "\(op.rawValue) in \(status.rawValue) (\(mount))")
            }
        }
    }

    @Test("the lifecycle paths of the design card")
    func paths() {
        // creating → unmounted
        #expect(DriveLifecycle.decide(.complete, in: .init(status: .creating)) == .proceed(to: .unmounted))
        // unmounted → resizing → unmounted
        #expect(DriveLifecycle.decide(.resize, in: .init(status: .unmounted)) == .proceed(to: .resizing))
        #expect(DriveLifecycle.decide(.complete, in: .init(status: .resizing)) == .proceed(to: .unmounted))
        // mounted (stopped server) → resizing → mounted
        #expect(DriveLifecycle.decide(.resize, in: .init(status: .mounted, mountCount: 1)) == .proceed(to: .resizing))
        #expect(DriveLifecycle.decide(.complete, in: .init(status: .resizing, mountCount: 1)) == .proceed(to: .mounted))
        // cloning_dst → unmounted; cloning_src stays while other clones copy, then returns
        #expect(DriveLifecycle.decide(.complete, in: .init(status: .cloningDestination)) == .proceed(to: .unmounted))
        #expect(
            DriveLifecycle.decide(.complete, in: .init(status: .cloningSource, activeClonesFromHere: 1)) == .proceed(to: nil))
        #expect(DriveLifecycle.decide(.complete, in: .init(status: .cloningSource, mountCount: 2)) == .proceed(to: .mounted))
    }

    @Test("rejections are 403 permission with decision 1's message")
    func rejectionMessage() throws {
        guard case .reject(let error) = DriveLifecycle.decide(.delete, in: .init(status: .creating)) else {
            Issue.record("expected a rejection")
            return
        }
        #expect(error.status == 403)
        #expect(error.kind.wireName == "permission")
        #expect(error.point == nil)
        #expect(error.message == #"Cannot delete drive in state "creating". Drive should be in state "['unmounted', 'mounted']""#)
        guard case .reject(let single) = DriveLifecycle.decide(.attach, in: .init(status: .resizing)) else {
            Issue.record("expected a rejection")
            return
        }
        #expect(single.message == #"Cannot attach drive in state "resizing". Drive should be in state "unmounted""#)
    }

    @Test("statuses: each of the ten is transient or at rest, as the reference's table says, with its wire name")
    func transient() {
        // Every status, with its wire name and whether operations but basic edits are refused
        // in it. A status added to the enum must be added here.
        let table: [(DriveStatus, String, Bool)] = [
            (.creating, "creating", true), (.unmounted, "unmounted", false), (.mounted, "mounted", false),
            (.resizing, "resizing", true), (.cloningSource, "cloning_src", true), (.cloningDestination, "cloning_dst", true),
            (.copying, "copying", true), (.unavailable, "unavailable", false), (.uploading, "uploading", true),
            (.staging, "staging", true),
        ]
        #expect(Set(table.map(\.0)) == Set(DriveStatus.allCases))
        #expect(table.count == DriveStatus.allCases.count)
        for (status, wire, transient) in table {
            #expect(status.rawValue == wire)
            #expect(status.isTransient == transient, "\(wire)")
        }
    }
}

@Suite("Server state machine")
struct ServerLifecycleTests {
    @Test("every (status, operation) pair", arguments: ServerLifecycle.Operation.allCases)
    func table(op: ServerLifecycle.Operation) {
        for status in ServerStatus.allCases {
            let decision = ServerLifecycle.decide(op, in: status)
            let expected: ServerLifecycle.Decision? =
                switch (op, status) {
                case (.start, .stopped): .proceed(to: .starting)
                case (.stop, .running): .proceed(to: .stopping)
                case (.complete, .starting): .proceed(to: .running)
                case (.complete, .stopping): .proceed(to: .stopped)
                case (.delete, .stopped), (.editStructural, .stopped): .proceed(to: nil)
                case (.editStructural, _): .ignore
                default: nil
                }
            if let expected {
                #expect(decision == expected, "\(op) in \(status)")
            } else if case .reject(let error) = decision {
                #expect(error.status == 403)
            } else {
                Issue.record("\(op) in \(status) should be refused, got \(decision)")
            }
        }
    }

    @Test("the real API's messages")
    func messages() {
        guard case .reject(let start) = ServerLifecycle.decide(.start, in: .running),
            case .reject(let stop) = ServerLifecycle.decide(.stop, in: .stopped)
        else {
            Issue.record("expected refusals")
            return
        }
        #expect(start.message == #"Cannot start guest in state "started". Guest should be in state "stopped""#)
        #expect(stop.message == #"Cannot stop guest in state "stopped". Guest should be in state "['started', 'running_legacy']""#)
    }
}
