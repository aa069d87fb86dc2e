import NIOCore
import Testing
import Transport

@Suite struct PeerSilenceTests {
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
    let deadAfter = TimeAmount.seconds(4)
    let stall = TimeAmount.seconds(1)

    private func judge(_ silence: inout PeerSilence, now: NIODeadline, due: NIODeadline) -> Bool {
        silence.isGone(now: now, due: due, deadAfter: deadAfter, stall: stall)
    }

    @Test func aPeerSilentForDeadAfterIsGoneWhenTheCheckRunsOnTime() {
        var silence = PeerSilence(heardAt: start)
        let due = start + deadAfter
        #expect(!judge(&silence, now: due - .milliseconds(1), due: due - .milliseconds(1)))
        #expect(judge(&silence, now: due, due: due))
    }

    @Test func aLateCheckWaitsOneStallForWhatIsQueuedAndAnythingHeardKeepsThePeer() {
        var silence = PeerSilence(heardAt: start)
        // This process stalled: the check due at 1 s runs at 6 s.
        let late = start + .seconds(6)
        #expect(!judge(&silence, now: late, due: start + .seconds(1)))
        #expect(silence.deadline(deadAfter: deadAfter) == late + stall)
        // The peer's keepalive, queued during the stall, is read next.
        silence.heard(at: late + .milliseconds(1))
        #expect(!judge(&silence, now: late + stall, due: late + stall))
        #expect(silence.deadline(deadAfter: deadAfter) == late + .milliseconds(1) + deadAfter)
    }

    @Test func aPeerStillSilentAfterTheGraceIsGoneAndAnotherStallGetsNoSecondGrace() {
        var silence = PeerSilence(heardAt: start)
        let late = start + .seconds(6)
        #expect(!judge(&silence, now: late, due: start + .seconds(1)))
        // Stalled again past the grace: the same silence is not excused twice.
        let later = late + .seconds(3)
        #expect(judge(&silence, now: later, due: late + stall))
    }

    @Test func aStallAfterThePeerWasHeardAgainIsExcusedAgain() {
        var silence = PeerSilence(heardAt: start)
        #expect(!judge(&silence, now: start + .seconds(6), due: start + .seconds(1)))
        silence.heard(at: start + .seconds(6))
        // A new silence, a new stall: excused once more.
        #expect(!judge(&silence, now: start + .seconds(12), due: start + .seconds(7)))
        #expect(judge(&silence, now: start + .seconds(13), due: start + .seconds(13)))
    }

    @Test func aCheckLessThanAStallLateIsNotExcused() {
        var silence = PeerSilence(heardAt: start)
        let now = start + deadAfter + .milliseconds(500)
        #expect(judge(&silence, now: now, due: start + deadAfter))
    }
}
