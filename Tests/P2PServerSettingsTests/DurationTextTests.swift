import P2PServerSettings
import Testing

@Suite struct DurationTextTests {
    @Test func readsNumbersWithUnits() {
        #expect(DurationText.parse("250ms") == .milliseconds(250))
        #expect(DurationText.parse("3s") == .seconds(3))
        #expect(DurationText.parse("1.5s") == .milliseconds(1500))
        #expect(DurationText.parse("2m") == .seconds(120))
        #expect(DurationText.parse("1h") == .seconds(3600))
        #expect(DurationText.parse(" 10ms ") == .milliseconds(10))
    }

    @Test func refusesAnythingElse() {
        // The last two do not fit a duration (~292,000 years at most): refused, not a trap.
        for text in ["", "ms", "100", "-1s", "1e3ms", "1 s", "fast", "1.2.3s", "nans", "infs", "3000000000h", "10000000000000000ms"] {
            #expect(DurationText.parse(text) == nil, "\(text)")
        }
    }

    @Test func formatsWhatItReads() {
        for duration: Duration in [.milliseconds(100), .seconds(3), .milliseconds(1500), .seconds(120)] {
            #expect(DurationText.parse(DurationText.format(duration)) == duration)
        }
        #expect(DurationText.format(.seconds(3)) == "3s")
        #expect(DurationText.format(.milliseconds(100)) == "100ms")
    }
}
