import P2PCore
import ReliableDatagram
import Testing

/// Malformed or foreign datagrams are refused with an error and leave the session untouched.
@Suite struct MalformedDatagramTests {
    static let conversation: UInt32 = 0x0102_0304

    static func session() throws -> ReliableDatagramSession {
        try ReliableDatagramSession(settings: ReliableDatagramSettings(conversation: conversation))
    }

    static func segment(
        command: SegmentCommand = .push, conversation: UInt32 = conversation, fragment: UInt8 = 0,
        sequence: UInt32 = 0, payload: [UInt8] = [1, 2, 3], declaredLength: UInt32? = nil
    ) -> [UInt8] {
        var bytes: [UInt8] = []
        SegmentHeader(
            conversation: conversation, command: command, fragment: fragment, window: 128,
            sequence: sequence, length: declaredLength ?? UInt32(payload.count)
        ).encode(into: &bytes)
        return bytes + payload
    }

    @Test func emptyAndShortDatagramsAreTruncatedHeaders() throws {
        var session = try Self.session()
        for size in [0, 1, 4, 23] {
            let datagram = Array(Self.segment().prefix(size))
            #expect(throws: ReliableDatagramError.truncatedHeader(offset: 0, available: size)) {
                try session.input(datagram: datagram)
            }
        }
    }

    @Test func trailingBytesAfterTheLastSegmentAreATruncatedHeader() throws {
        var session = try Self.session()
        let datagram = Self.segment(payload: [9]) + [0x04, 0x03, 0x02]
        #expect(throws: ReliableDatagramError.truncatedHeader(offset: 25, available: 3)) {
            try session.input(datagram: datagram)
        }
        #expect(session.receive() == nil, "the valid first segment must not be applied")
    }

    @Test(arguments: [UInt32(4), 1_000, UInt32(Int32.max), UInt32.max])
    func aLengthBeyondTheDatagramIsATruncatedPayload(declared: UInt32) throws {
        var session = try Self.session()
        let datagram = Self.segment(payload: [1, 2, 3], declaredLength: declared)
        #expect(throws: ReliableDatagramError.truncatedPayload(offset: 0, declared: declared, available: 3)) {
            try session.input(datagram: datagram)
        }
    }

    @Test(arguments: [UInt8(0), 80, 85, 255])
    func anUnknownCommandIsRejected(command: UInt8) throws {
        var session = try Self.session()
        var datagram = Self.segment()
        datagram[4] = command
        #expect(throws: ReliableDatagramError.unknownCommand(command, offset: 0)) {
            try session.input(datagram: datagram)
        }
    }

    @Test func aWrongConversationIsRejectedEvenInALaterSegment() throws {
        var session = try Self.session()
        #expect(throws: ReliableDatagramError.wrongConversation(expected: Self.conversation, received: 7)) {
            try session.input(datagram: Self.segment(conversation: 7))
        }
        let mixed = Self.segment(sequence: 0) + Self.segment(conversation: 7, sequence: 1)
        #expect(throws: ReliableDatagramError.wrongConversation(expected: Self.conversation, received: 7)) {
            try session.input(datagram: mixed)
        }
        #expect(session.receive() == nil)
        session.update(current: 0)
        #expect(session.drainOutbox().isEmpty, "a rejected datagram must not be acknowledged")
    }

    @Test func aFragmentCountNoMessageCouldHaveIsRejected() throws {
        var session = try Self.session()
        #expect(throws: ReliableDatagramError.fragmentOutOfRange(200, offset: 0, limit: 127)) {
            try session.input(datagram: Self.segment(fragment: 200))
        }
    }

    @Test func aValidDatagramStillWorksAfterRejectedOnes() throws {
        var session = try Self.session()
        _ = try? session.input(datagram: [0xFF])
        _ = try? session.input(datagram: Self.segment(declaredLength: 99))
        try session.input(datagram: Self.segment(payload: [7, 8]))
        #expect(session.receive() == [7, 8])
    }

    /// Random bytes (with the right conversation, to get past the first check) never trap.
    @Test func randomDatagramsNeverCrash() throws {
        var random = SplitMix64(seed: 42)
        var session = try Self.session()
        var accepted = 0
        for round in 0..<20_000 {
            var datagram = (0..<Int.random(in: 0...80, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            if datagram.count >= 24, round % 2 == 0 {
                datagram.replaceSubrange(0..<4, with: [0x04, 0x03, 0x02, 0x01])
                datagram[4] = UInt8.random(in: 81...84, using: &random)
                datagram[20] = UInt8(datagram.count - 24)
                datagram[21] = 0
                datagram[22] = 0
                datagram[23] = 0
            }
            do {
                try session.input(datagram: datagram)
                accepted += 1
            } catch {}
            session.update(current: UInt32(round) * 10)
            _ = session.drainOutbox()
            _ = session.drainMessages()
        }
        #expect(accepted > 0)
    }
}
