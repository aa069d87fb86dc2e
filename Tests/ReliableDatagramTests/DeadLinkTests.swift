import ReliableDatagram
import Testing

/// A segment that is never acknowledged marks the link dead after `deadLink` transmissions.
@Suite struct DeadLinkTests {
    @Test(arguments: [NoDelayMode.off, .on, .aggressive])
    func aLinkThatDropsEverythingIsReportedDead(noDelay: NoDelayMode) throws {
        var settings = ReliableDatagramSettings(conversation: 1)
        settings.noDelay = noDelay
        settings.deadLink = 8
        var session = try ReliableDatagramSession(settings: settings)
        try session.send(message: Array(repeating: 0xAB, count: 100))

        var transmissions = 0
        var now: UInt32 = 0
        while !session.isDeadLink, now < 3_600_000 {
            session.update(current: now)
            transmissions += session.drainOutbox().count  // dropped: nothing ever answers
            now += 10
        }
        #expect(session.isDeadLink)
        #expect(transmissions == settings.deadLink)
        #expect(session.waitingToSend == 1)
        #expect(session.timeoutRetransmissions == settings.deadLink - 1)
    }

    @Test func aLossyButLiveLinkIsNotDead() throws {
        let settings = ReliableDatagramSettings.fast(conversation: 2)
        var exchange = SimulatedExchange(
            left: try ReliableDatagramSession(settings: settings),
            right: try ReliableDatagramSession(settings: settings),
            toRight: LossyLink(seed: 5, dropRate: 0.3, duplicateRate: 0, delay: 10...30),
            toLeft: LossyLink(seed: 6, dropRate: 0.3, duplicateRate: 0, delay: 10...30)
        )
        for index in 0..<200 { try exchange.left.send(message: [UInt8(truncatingIfNeeded: index)]) }
        var received = 0
        while received < 200, exchange.now < 600_000 {
            received += try exchange.advance().right.count
        }
        #expect(received == 200)
        #expect(!exchange.left.isDeadLink)
    }

    /// Without acknowledgements each retransmission waits longer than the one before.
    @Test func retransmissionsBackOff() throws {
        var settings = ReliableDatagramSettings(conversation: 3)
        settings.deadLink = 5
        var session = try ReliableDatagramSession(settings: settings)
        try session.send(message: [1])
        var sendTimes: [UInt32] = []
        var now: UInt32 = 0
        while sendTimes.count < 5 {
            session.update(current: now)
            if !session.drainOutbox().isEmpty { sendTimes.append(now) }
            now += 10
        }
        let gaps = zip(sendTimes.dropFirst(), sendTimes).map { $0 - $1 }
        #expect(gaps.count == 4)
        for (later, earlier) in zip(gaps.dropFirst(), gaps) {
            #expect(later > earlier, "gaps \(gaps)")
        }
    }
}
