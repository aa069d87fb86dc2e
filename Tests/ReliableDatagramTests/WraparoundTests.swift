@testable import ReliableDatagram
import Testing

/// KCP's clock and sequence numbers are 32-bit and wrap; a session must carry on across the wrap.
@Suite struct WraparoundTests {
    @Test(arguments: [false, true])
    func deliveryContinuesAcrossTheWrapOfClockAndSequenceNumbers(fast: Bool) throws {
        var settings = fast ? ReliableDatagramSettings.fast(conversation: 3) : ReliableDatagramSettings(conversation: 3)
        settings.deadLink = 1_000
        var left = try ReliableDatagramSession(settings: settings)
        var right = try ReliableDatagramSession(settings: settings)
        let start: UInt32 = .max - 40
        left.sendNext = start
        left.sendUnacknowledged = start
        right.receiveNext = start

        var exchange = SimulatedExchange(
            left: left, right: right,
            toRight: LossyLink(seed: 21, dropRate: 0.1, duplicateRate: 0.05, delay: 5...60),
            toLeft: LossyLink(seed: 22, dropRate: 0.1, duplicateRate: 0.05, delay: 5...60)
        )
        exchange.now = .max - 200
        let mss = settings.maximumSegmentSize
        let messages = (0..<300).map { TestMessages.message($0, stream: 77, segmentSize: mss) }
        var sent = 0
        var received: [[UInt8]] = []
        var steps = 0
        while received.count < messages.count, steps < 200_000 {
            while sent < messages.count, exchange.left.waitingToSend < 64 {
                try exchange.left.send(message: messages[sent])
                sent += 1
            }
            received += try exchange.advance().right
            steps += 1
        }
        #expect(received == messages)
        #expect(exchange.now < UInt32.max / 2, "the clock wrapped during the run")
        #expect(exchange.left.sendNext < start, "sequence numbers wrapped during the run")
    }
}
