import P2PCore
import ReliableDatagram
import Testing
import TestSupport

/// Two sessions over links that drop, duplicate, delay and reorder datagrams must still deliver
/// every message exactly once and in order, both ways.
@Suite struct LossyLinkTests {
    static let seeds: [UInt64] = [1, 2, 3, 4, 5, 6]
    static let messagesPerDirection = 1_500

    @Test(arguments: seeds)
    func everyMessageArrivesExactlyOnceInOrder(seed: UInt64) async {
        do {
            let outcome = try await onOwnThread { try Self.run(seed: seed) }
            #expect(outcome.failure == nil, "seed \(seed): \(outcome.failure ?? "")")
            #expect(outcome.datagramsDropped > 0, "seed \(seed): the link dropped nothing")
        } catch {
            Issue.record("seed \(seed): \(error)")
        }
    }

    @Test func aRunReplaysExactlyFromItsSeed() throws {
        let first = try Self.run(seed: 9, messages: 200)
        let second = try Self.run(seed: 9, messages: 200)
        #expect(first.failure == nil)
        #expect(first.finishedAt == second.finishedAt)
        #expect(first.datagramsDropped == second.datagramsDropped)
    }

    struct Outcome {
        var failure: String?
        var finishedAt: UInt32
        var datagramsDropped: Int
    }

    /// The settings, link faults and message sizes vary with the seed.
    static func settings(seed: UInt64) throws -> ReliableDatagramSettings {
        var settings: ReliableDatagramSettings
        switch seed % 3 {
        case 0:
            settings = ReliableDatagramSettings(conversation: 0xC0FFEE)
            settings.sendWindow = 64
        case 1:
            settings = .fast(conversation: 0xC0FFEE)
            settings.sendWindow = 128
            settings.receiveWindow = 256
        default:
            settings = .fast(conversation: 0xC0FFEE)
            settings.congestionControl = true
            settings.noDelay = .aggressive
            settings.mtu = 576
            settings.sendWindow = 96
        }
        settings.deadLink = 1_000  // Heavy loss may resend a segment often; this test is about delivery.
        return settings
    }

    static func run(seed: UInt64, messages: Int = messagesPerDirection) throws -> Outcome {
        let settings = try settings(seed: seed)
        var random = SplitMix64(seed: seed)
        let dropRate = Double.random(in: 0.05...0.2, using: &random)
        let duplicateRate = Double.random(in: 0.02...0.1, using: &random)
        let delay: ClosedRange<UInt32> = 5...UInt32.random(in: 40...150, using: &random)
        var exchange = SimulatedExchange(
            left: try ReliableDatagramSession(settings: settings),
            right: try ReliableDatagramSession(settings: settings),
            toRight: LossyLink(seed: seed &+ 1, dropRate: dropRate, duplicateRate: duplicateRate, delay: delay),
            toLeft: LossyLink(seed: seed &+ 2, dropRate: dropRate, duplicateRate: duplicateRate, delay: delay)
        )
        let mss = settings.maximumSegmentSize
        let leftStream = seed &* 2
        let rightStream = seed &* 2 &+ 1
        var leftSent = 0, rightSent = 0, leftReceived = 0, rightReceived = 0
        let deadline: UInt32 = 30 * 60 * 1_000

        func check(_ received: [[UInt8]], from stream: UInt64, count: inout Int, side: String) -> String? {
            for message in received {
                guard count < messages else { return "\(side) received an extra message" }
                let expected = TestMessages.message(count, stream: stream, segmentSize: mss)
                guard message == expected else {
                    return "\(side) expected message \(count) (\(expected.count) bytes), got \(message.count) bytes"
                }
                count += 1
            }
            return nil
        }

        while leftReceived < messages || rightReceived < messages {
            // Keep a bounded backlog, as an application watching `waitingToSend` would.
            while leftSent < messages, exchange.left.waitingToSend < 2 * settings.sendWindow {
                try exchange.left.send(message: TestMessages.message(leftSent, stream: leftStream, segmentSize: mss))
                leftSent += 1
            }
            while rightSent < messages, exchange.right.waitingToSend < 2 * settings.sendWindow {
                try exchange.right.send(message: TestMessages.message(rightSent, stream: rightStream, segmentSize: mss))
                rightSent += 1
            }
            let received = try exchange.advance()
            let failure =
                check(received.left, from: rightStream, count: &leftReceived, side: "left")
                ?? check(received.right, from: leftStream, count: &rightReceived, side: "right")
            if let failure {
                return Outcome(failure: failure, finishedAt: exchange.now, datagramsDropped: 0)
            }
            if exchange.now >= deadline {
                return Outcome(
                    failure: "stalled: left received \(leftReceived), right received \(rightReceived) of \(messages)",
                    finishedAt: exchange.now, datagramsDropped: 0)
            }
        }
        return Outcome(
            failure: nil, finishedAt: exchange.now,
            datagramsDropped: exchange.toLeft.dropped + exchange.toRight.dropped)
    }
}
