import P2PCore
import Testing

@Suite struct GroupCommitStateTests {
    @Test func heldItemsWaitForTheNextItemThatMayNotOrForTheirDelay() {
        var state = GroupCommitState<Int>()
        let first = state.enqueue(1, hold: true)
        #expect(first == .afterHoldDelay)
        let second = state.enqueue(2, hold: true)
        #expect(second == .none)
        let third = state.enqueue(3, hold: false)
        #expect(third == .now)
        // A drain runs: whatever comes joins it.
        let fourth = state.enqueue(4, hold: false)
        #expect(fourth == .none)
        let taken = state.takeQueued()
        #expect(taken == [1, 2, 3, 4])
        let rest = state.takeQueued()
        #expect(rest == [])
        // The delayed drain scheduled for 1 and 2 finds nothing left.
        let lateClaim = state.claimHeld()
        #expect(lateClaim == false)

        let fifth = state.enqueue(5, hold: true)
        #expect(fifth == .afterHoldDelay)
        let claimed = state.claimHeld()
        #expect(claimed)
        // The drain runs: a held item joins it, no new delay is scheduled.
        let sixth = state.enqueue(6, hold: true)
        #expect(sixth == .none)
        let held = state.takeQueued()
        #expect(held == [5, 6])
        let none = state.takeQueued()
        #expect(none == [])
    }

    @Test func aHeldItemQueuedWhileADelayIsPendingWaitsForThatDelay() {
        var state = GroupCommitState<Int>()
        let first = state.enqueue(1, hold: false)
        #expect(first == .now)
        let second = state.enqueue(2, hold: true)
        #expect(second == .none)
        let drained = state.takeQueued()
        #expect(drained == [1, 2])
        let empty = state.takeQueued()
        #expect(empty == [])
        let third = state.enqueue(3, hold: true)
        #expect(third == .afterHoldDelay)
        let fourth = state.enqueue(4, hold: true)
        #expect(fourth == .none)
        let claimed = state.claimHeld()
        #expect(claimed)
        let again = state.claimHeld()
        #expect(again == false)
        let taken = state.takeQueued()
        #expect(taken == [3, 4])
    }
}
