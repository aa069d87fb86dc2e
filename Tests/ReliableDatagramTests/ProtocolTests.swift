import ReliableDatagram
import Testing

/// The wire format and the protocol's mechanisms, one at a time.
@Suite struct ProtocolTests {
    /// Decodes every segment of a datagram (test helper; the session validates the same way).
    static func segments(of datagram: [UInt8], conversation: UInt32) throws -> [(SegmentHeader, [UInt8])] {
        var result: [(SegmentHeader, [UInt8])] = []
        var offset = 0
        while offset < datagram.count {
            let header = try SegmentHeader(decoding: datagram, at: offset, conversation: conversation)
            let start = offset + SegmentHeader.size
            result.append((header, Array(datagram[start..<start + Int(header.length)])))
            offset = start + Int(header.length)
        }
        return result
    }

    @Test func theHeaderIsKCPsLittleEndianLayout() throws {
        let header = SegmentHeader(
            conversation: 0x1122_3344, command: .push, fragment: 2, window: 0x5566,
            timestamp: 0x0102_0304, sequence: 0x0A0B_0C0D, unacknowledged: 0x1A1B_1C1D, length: 3
        )
        var bytes: [UInt8] = []
        header.encode(into: &bytes)
        #expect(bytes == [
            0x44, 0x33, 0x22, 0x11, 81, 2, 0x66, 0x55,
            0x04, 0x03, 0x02, 0x01, 0x0D, 0x0C, 0x0B, 0x0A,
            0x1D, 0x1C, 0x1B, 0x1A, 3, 0, 0, 0,
        ])
        let decoded = try SegmentHeader(decoding: bytes + [1, 2, 3], at: 0, conversation: 0x1122_3344)
        #expect(decoded == header)
        #expect(ReliableDatagramSession.conversation(of: bytes) == 0x1122_3344)
        #expect(ReliableDatagramSession.conversation(of: [1, 2]) == nil)
    }

    @Test func aLongMessageIsFragmentedWithFrgCountingDown() throws {
        var settings = ReliableDatagramSettings(conversation: 9)
        settings.congestionControl = false
        var sender = try ReliableDatagramSession(settings: settings)
        var receiver = try ReliableDatagramSession(settings: settings)
        let mss = settings.maximumSegmentSize
        let message = (0..<(2 * mss + 10)).map { UInt8(truncatingIfNeeded: $0) }
        try sender.send(message: message)
        #expect(sender.waitingToSend == 3)
        sender.update(current: 0)
        let datagrams = sender.drainOutbox()
        #expect(datagrams.allSatisfy { $0.count <= settings.mtu })
        let headers = try datagrams.flatMap { try Self.segments(of: $0, conversation: 9) }.map(\.0)
        #expect(headers.map(\.fragment) == [2, 1, 0])
        #expect(headers.map(\.sequence) == [0, 1, 2])
        #expect(headers.map(\.length) == [UInt32(mss), UInt32(mss), 10])

        // Out of order, the message appears only once all fragments are there.
        try receiver.input(datagram: datagrams[2])
        try receiver.input(datagram: datagrams[0])
        #expect(receiver.receive() == nil)
        try receiver.input(datagram: datagrams[1])
        #expect(receiver.nextMessageSize == message.count)
        #expect(receiver.receive() == message)
    }

    @Test func messagesBeyond127FragmentsAreRefused() throws {
        var session = try ReliableDatagramSession(settings: ReliableDatagramSettings(conversation: 1))
        let limit = session.settings.maximumMessageSize
        try session.send(message: Array(repeating: 0, count: limit))
        #expect(throws: ReliableDatagramError.messageTooLarge(size: limit + 1, limit: limit)) {
            try session.send(message: Array(repeating: 0, count: limit + 1))
        }
    }

    @Test func invalidSettingsAreRefused() {
        var settings = ReliableDatagramSettings(conversation: 1)
        settings.mtu = 30
        #expect(throws: ReliableDatagramError.self) { try ReliableDatagramSession(settings: settings) }
        settings = ReliableDatagramSettings(conversation: 1)
        settings.receiveWindow = 64
        #expect(throws: ReliableDatagramError.self) { try ReliableDatagramSession(settings: settings) }
        settings = ReliableDatagramSettings(conversation: 1)
        settings.interval = 1
        #expect(throws: ReliableDatagramError.self) { try ReliableDatagramSession(settings: settings) }
    }

    @Test func acknowledgementsCarryTheSequenceTimestampAndUna() throws {
        let settings = ReliableDatagramSettings.fast(conversation: 4)
        var sender = try ReliableDatagramSession(settings: settings)
        var receiver = try ReliableDatagramSession(settings: settings)
        try sender.send(message: [1])
        try sender.send(message: [2])
        sender.update(current: 1_000)
        receiver.update(current: 1_000)
        for datagram in sender.drainOutbox() { try receiver.input(datagram: datagram) }
        receiver.flush()
        let acks = try receiver.drainOutbox().flatMap { try Self.segments(of: $0, conversation: 4) }.map(\.0)
        #expect(acks.map(\.command) == [.acknowledge, .acknowledge])
        #expect(acks.map(\.sequence) == [0, 1])
        #expect(acks.allSatisfy { $0.timestamp == 1_000 && $0.unacknowledged == 2 && $0.length == 0 })

        sender.update(current: 1_040)
        for ack in acks {
            var datagram: [UInt8] = []
            ack.encode(into: &datagram)
            try sender.input(datagram: datagram)
        }
        #expect(sender.waitingToSend == 0)
        #expect(sender.retransmissionTimeout >= 30)
    }

    @Test func fastRetransmitResendsASkippedSegmentBeforeItsTimeout() throws {
        var settings = ReliableDatagramSettings.fast(conversation: 5)
        settings.interval = 10
        var sender = try ReliableDatagramSession(settings: settings)
        var receiver = try ReliableDatagramSession(settings: settings)
        for index in 0..<4 { try sender.send(message: [UInt8(index)]) }
        sender.update(current: 0)
        receiver.update(current: 0)
        let first = sender.drainOutbox().flatMap { datagram in
            (try? Self.segments(of: datagram, conversation: 5)) ?? []
        }
        #expect(first.count == 4)
        // Segment 0 is lost; 1, 2 and 3 arrive and are acknowledged in separate datagrams.
        for (header, payload) in first.dropFirst() {
            var datagram: [UInt8] = []
            header.encode(into: &datagram)
            try receiver.input(datagram: datagram + payload)
        }
        receiver.flush()
        for ack in receiver.drainOutbox() {
            for (header, _) in try Self.segments(of: ack, conversation: 5) {
                var datagram: [UInt8] = []
                header.encode(into: &datagram)
                sender.update(current: 1)
                try sender.input(datagram: datagram)
            }
        }
        sender.update(current: 10)  // Far below the 30 ms minimum RTO.
        let resent = try sender.drainOutbox().flatMap { try Self.segments(of: $0, conversation: 5) }.map(\.0)
        #expect(resent.map(\.sequence) == [0])
        #expect(sender.timeoutRetransmissions == 0)
    }

    @Test func aFullReceiveWindowStopsTheSenderAndProbingReopensIt() throws {
        var settings = ReliableDatagramSettings.fast(conversation: 6)
        settings.sendWindow = 512
        var exchange = SimulatedExchange(
            left: try ReliableDatagramSession(settings: settings),
            right: try ReliableDatagramSession(settings: settings),
            toRight: LossyLink(seed: 1, dropRate: 0, duplicateRate: 0, delay: 5...5),
            toLeft: LossyLink(seed: 2, dropRate: 0, duplicateRate: 0, delay: 5...5)
        )
        for index in 0..<400 { try exchange.left.send(message: [UInt8(truncatingIfNeeded: index)]) }

        // The right side does not take messages: the left may not send past its window.
        for _ in 0..<200 { try exchange.advance(receiving: false) }
        #expect(exchange.left.remoteWindow == 0)
        #expect(exchange.left.waitingToSend == 400 - settings.receiveWindow)

        // Once it drains, everything arrives.
        var received = exchange.right.drainMessages().count
        while received < 400, exchange.now < 120_000 {
            received += try exchange.advance().right.count
        }
        #expect(received == 400)
        #expect(exchange.left.remoteWindow > 0)
    }

    @Test func theCongestionWindowOpensFromOneSegment() throws {
        var settings = ReliableDatagramSettings(conversation: 8)
        settings.sendWindow = 64
        var exchange = SimulatedExchange(
            left: try ReliableDatagramSession(settings: settings),
            right: try ReliableDatagramSession(settings: settings),
            toRight: LossyLink(seed: 1, dropRate: 0, duplicateRate: 0, delay: 20...20),
            toLeft: LossyLink(seed: 2, dropRate: 0, duplicateRate: 0, delay: 20...20)
        )
        for _ in 0..<300 { try exchange.left.send(message: [0]) }
        #expect(exchange.left.congestionWindow == 1)
        var windows: [Int] = []
        while exchange.left.waitingToSend > 0, exchange.now < 60_000 {
            try exchange.advance()
            windows.append(exchange.left.congestionWindow)
        }
        #expect(exchange.left.waitingToSend == 0)
        #expect(windows.max() ?? 0 > 8, "windows \(windows)")
        #expect(windows == windows.sorted(), "no loss, so the window only grows")
    }

    @Test func checkNamesTheNextUpdateTime() throws {
        var session = try ReliableDatagramSession(settings: ReliableDatagramSettings(conversation: 1))
        #expect(session.check(current: 500) == 500)
        session.update(current: 1_000)
        #expect(session.check(current: 1_000) == 1_100)
        #expect(session.check(current: 1_150) == 1_150)
    }
}
