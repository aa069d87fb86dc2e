import P2PCore
import Testing
@testable import P2PClient

/// A direct path's round-trip time and loss from its echoed keepalive pings.
@Suite struct PathProbeTests {
    @Test func echoedPingsGiveTheRoundTripTimeAndUnansweredOnesTheLoss() {
        var window = ProbeWindow()
        let start = ContinuousClock.now
        #expect(window.smoothed == nil)
        #expect(window.loss(at: start) == nil)

        let first = window.sent(at: start)
        window.echoed(first, at: start + .milliseconds(10))
        #expect(window.smoothed == .milliseconds(10))
        // Smoothed as TCP does: 7/8 of the old estimate, 1/8 of the new sample.
        let second = window.sent(at: start + .seconds(1))
        window.echoed(second, at: start + .seconds(1) + .milliseconds(18))
        #expect(window.smoothed == .milliseconds(11))
        #expect(window.loss(at: start + .seconds(2)) == 0)

        // Two pings never echoed: lost once older than `lossAfter`, and a late echo is ignored.
        let lost = window.sent(at: start + .seconds(2))
        _ = window.sent(at: start + .seconds(3))
        #expect(window.loss(at: start + .seconds(3)) == 0)
        #expect(window.loss(at: start + .seconds(6)) == 0.5)
        window.echoed(lost, at: start + .seconds(6))
        #expect(window.smoothed == .milliseconds(11))

        // Only the newest pings count.
        for second in 7..<(7 + ProbeWindow.window) {
            let at = start + .seconds(second)
            let sequence = window.sent(at: at)
            window.echoed(sequence, at: at + .milliseconds(1))
        }
        #expect(window.loss(at: start + .seconds(60)) == 0)
    }

    @Test func pingPayloadsRoundTripAndAnOldPeersEmptyPingIsNone() {
        let bytes = PathProbe.Ping.encode(PathProbe.Ping.echo, 0xDEAD_BEEF)
        #expect(PathProbe.Ping.decode(bytes)?.kind == PathProbe.Ping.echo)
        #expect(PathProbe.Ping.decode(bytes)?.sequence == 0xDEAD_BEEF)
        #expect(PathProbe.Ping.decode([]) == nil)
    }
}
