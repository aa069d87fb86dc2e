import P2PCore
import Testing

@Suite struct GroupCommitStateTests {
    @Test func heldItemsWaitForTheNextItemThatMayNotOrForTheirDelay() {
        var state = GroupCommitState<Int>()
        let r1 = state.enqueue(1, hold: true)
        #expect(r1 == .afterHoldDelay)
        let r2 = state.enqueue(2, hold: true)
        #expect(r2 == .none)
        let r3 = state.enqueue(3, hold: false)
        #expect(r3 == .now)
        // A drain runs: whatever comes joins it.
        let r4 = state.enqueue(4, hold: false)
        #expect(r4 == .none)
        let r5 = state.takeQueued()
        #expect(r5 == [1, 2, 3, 4])
        let r6 = state.takeQueued()
        #expect(r6 == [])
        // The delayed drain of 1 and 2 finds nothing left.
        let r7 = state.claimHeld(fromTimer: true)
        #expect(r7 == false)

        let r8 = state.enqueue(5, hold: true)
        #expect(r8 == .afterHoldDelay)
        let r9 = state.claimHeld(fromTimer: true)
        #expect(r9)
        let r10 = state.enqueue(6, hold: true)
        #expect(r10 == .none)
        let r11 = state.takeQueued()
        #expect(r11 == [5, 6])
        let r12 = state.takeQueued()
        #expect(r12 == [])
    }

    @Test func someoneWaitingForHeldItemsDrainsThemAtOnce() {
        var state = GroupCommitState<Int>()
        let r13 = state.claimHeld(fromTimer: false)
        #expect(r13 == false)
        let r14 = state.enqueue(1, hold: true)
        #expect(r14 == .afterHoldDelay)
        let r15 = state.claimHeld(fromTimer: false)
        #expect(r15)
        let r16 = state.claimHeld(fromTimer: false)
        #expect(r16 == false)
        let r17 = state.takeQueued()
        #expect(r17 == [1])
        let r18 = state.takeQueued()
        #expect(r18 == [])
        // The delay scheduled for 1 is still pending: a new held item waits for it.
        let r19 = state.enqueue(2, hold: true)
        #expect(r19 == .none)
        let r20 = state.claimHeld(fromTimer: true)
        #expect(r20)
        let r21 = state.takeQueued()
        #expect(r21 == [2])
    }
}
