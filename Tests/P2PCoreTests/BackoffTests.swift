import P2PCore
import Testing

@Suite struct BackoffTests {
    @Test func doublesUpToTheMaximumAndStartsOverOnReset() {
        var backoff = Backoff(initial: .milliseconds(100), maximum: .milliseconds(500))
        #expect((0..<5).map { _ in backoff.next() } == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(500), .milliseconds(500)])
        backoff.reset()
        #expect(backoff.next() == .milliseconds(100))
    }

    @Test func aMaximumBelowTheInitialDelayIsRaisedToIt() {
        var backoff = Backoff(initial: .seconds(2), maximum: .seconds(1))
        #expect(backoff.next() == .seconds(2))
        #expect(backoff.next() == .seconds(2))
    }

    @Test func fullJitterStaysUnderTheUnjitteredDelayAndSpreadsOverIt() {
        var random = SplitMix64(seed: 7)
        var jittered = Backoff(initial: .milliseconds(100), maximum: .milliseconds(400))
        var plain = jittered
        for _ in 0..<6 {
            let ceiling = plain.next()
            let delay = jittered.next(jitteredBy: &random)
            #expect(delay >= .zero && delay <= ceiling)
        }
        #expect(jittered == plain)
        var spread = Backoff(initial: .seconds(2), maximum: .seconds(2))
        let delays = (0..<200).map { _ in spread.next(jitteredBy: &random) }
        #expect(delays.contains { $0 < .milliseconds(500) })
        #expect(delays.contains { $0 > .milliseconds(1500) })
        var again = SplitMix64(seed: 7)
        var replay = Backoff(initial: .milliseconds(100), maximum: .milliseconds(400))
        var first = SplitMix64(seed: 7)
        var original = Backoff(initial: .milliseconds(100), maximum: .milliseconds(400))
        #expect(replay.next(jitteredBy: &again) == original.next(jitteredBy: &first))
    }

    @Test func durationsConvertToWholeMilliseconds() {
        #expect(Duration.milliseconds(1500).wholeMilliseconds == 1500)
        #expect(Duration.microseconds(2999).wholeMilliseconds == 2)
        #expect((Duration.zero - .seconds(1)).wholeMilliseconds == 0)
    }

    @Test func seededGeneratorsReplay() {
        var a = SplitMix64(seed: 42)
        var b = SplitMix64(seed: 42)
        #expect(a.bytes(37) == b.bytes(37))
        #expect(a.next() == b.next())
        var c = SplitMix64(seed: 1)
        var d = SplitMix64(seed: 2)
        #expect(c.next() != d.next())
    }
}
