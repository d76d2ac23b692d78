import DriveStorage
import Testing

@testable import DriveStore

/// The decisions of group commit and of the doorbell, as pure state machines: no I/O, no tasks.
@Suite("Pure state machines of the store")
struct MachineTests {
    @Test("group commit: the first write drains, later ones queue, batches keep order and size")
    func groupCommitBatching() {
        var queue = GroupCommitQueue<Int>(maximumBatch: 3)
        #expect(queue.enqueue(1) == .startDraining)
        #expect(queue.draining)
        for n in 2...7 { #expect(queue.enqueue(n) == .queued) }
        #expect(queue.nextBatch() == [1, 2, 3])
        #expect(queue.nextBatch() == [4, 5, 6])
        // A write arriving mid-drain joins the drain, it does not start a second one.
        #expect(queue.enqueue(8) == .queued)
        #expect(queue.nextBatch() == [7, 8])
        #expect(queue.draining)
        // The empty batch ends the drain; the next write starts a new one.
        #expect(queue.nextBatch() == [])
        #expect(!queue.draining)
        #expect(queue.enqueue(9) == .startDraining)
        #expect(queue.nextBatch() == [9])
    }

    @Test("group commit: a batch size below one still takes one write at a time")
    func groupCommitMinimumBatch() {
        var queue = GroupCommitQueue<String>(maximumBatch: 0)
        #expect(queue.enqueue("a") == .startDraining)
        #expect(queue.enqueue("b") == .queued)
        #expect(queue.nextBatch() == ["a"])
        #expect(queue.nextBatch() == ["b"])
        #expect(queue.nextBatch().isEmpty)
    }

    @Test("doorbell: a ring before the wait is remembered once; a ring during it resumes the waiter")
    func doorbell() {
        var bell = Doorbell.Machine()
        #expect(bell.wait(cancelled: false) == .suspend)
        #expect(bell.state == .waiting)
        #expect(bell.ring() == .resumeWaiter)
        #expect(bell.state == .idle)
        bell.waitEnded()

        // Rung while nobody waited: the next wait returns at once, the one after suspends.
        #expect(bell.ring() == .none)
        #expect(bell.ring() == .none)
        #expect(bell.wait(cancelled: false) == .returnNow)
        bell.waitEnded()
        #expect(bell.wait(cancelled: false) == .suspend)
        bell.waitEnded()

        // A cancelled task never suspends.
        #expect(bell.wait(cancelled: true) == .returnNow)
        #expect(bell.state == .idle)
    }

    @Test("doorbell: a ring racing with the end of a wait is dropped, a second waiter is not stranded")
    func doorbellEdges() {
        var bell = Doorbell.Machine()
        #expect(bell.wait(cancelled: false) == .suspend)
        #expect(bell.wait(cancelled: false) == .returnNow)
        bell.waitEnded()
        #expect(bell.state == .idle)
    }
}
