import NIOCore
import ReliableDatagram

/// A tunnel's datagram: a KCP segment, a keepalive or a goodbye, stamped with the incarnations
/// of the tunnel at both ends.
///
/// A conversation can be closed and opened again with the same peer, and the KCP sequence
/// numbers of the new session start over; segments of the old session still on the wire (a late
/// retransmission, an acknowledgement) would be taken as the new session's and corrupt its
/// stream. So each tunnel picks a random incarnation, stamps it on what it sends as `sender`,
/// and stamps the peer's incarnation, once learned, as `receiver` (0 until then). A tunnel takes
/// only datagrams meant for it or for no one yet, from the peer incarnation it learned
/// (``UDPTunnelIncarnations``).
///
/// Layout after the kind byte (integers little-endian, as KCP writes them): a segment carries
/// `sender`, `receiver`, then the KCP bytes, whose header starts with the conversation; a
/// keepalive or goodbye carries the conversation, `sender` and `receiver`.
package struct UDPTunnelDatagram: Equatable, Sendable {
    package enum Kind: Equatable, Sendable {
        case segment([UInt8])
        case keepalive
        case goodbye
    }

    package let kind: Kind
    package let conversation: UInt32
    package let sender: UInt32
    package let receiver: UInt32

    /// Bytes a segment datagram adds in front of the KCP bytes.
    package static let segmentOverhead = 9
    /// The whole size of a keepalive or goodbye.
    package static let controlSize = 13

    package init(kind: Kind, conversation: UInt32, sender: UInt32, receiver: UInt32) {
        self.kind = kind
        self.conversation = conversation
        self.sender = sender
        self.receiver = receiver
    }

    /// Decodes a whole datagram; nil for anything that is not a well-formed tunnel datagram.
    package init?(decoding datagram: [UInt8]) {
        guard let first = datagram.first, let kind = UDPDatagramKind(rawValue: first) else { return nil }
        switch kind {
        case .tunnelSegment:
            guard datagram.count > Self.segmentOverhead else { return nil }
            let segment = Array(datagram[Self.segmentOverhead...])
            guard let conversation = ReliableDatagramSession.conversation(of: segment) else { return nil }
            self.init(
                kind: .segment(segment), conversation: conversation,
                sender: Self.uint32(datagram, at: 1), receiver: Self.uint32(datagram, at: 5)
            )
        case .keepalive, .goodbye:
            guard datagram.count == Self.controlSize else { return nil }
            self.init(
                kind: kind == .keepalive ? .keepalive : .goodbye, conversation: Self.uint32(datagram, at: 1),
                sender: Self.uint32(datagram, at: 5), receiver: Self.uint32(datagram, at: 9)
            )
        case .observeRequest, .observeReply, .probe, .probeAck:
            return nil
        }
    }

    /// The datagram as sent.
    package var encoded: ByteBuffer {
        var buffer = ByteBuffer()
        switch kind {
        case .segment(let segment):
            buffer.reserveCapacity(Self.segmentOverhead + segment.count)
            buffer.writeInteger(UDPDatagramKind.tunnelSegment.rawValue)
            buffer.writeInteger(sender, endianness: .little)
            buffer.writeInteger(receiver, endianness: .little)
            buffer.writeBytes(segment)
        case .keepalive, .goodbye:
            buffer.reserveCapacity(Self.controlSize)
            buffer.writeInteger((kind == .keepalive ? UDPDatagramKind.keepalive : .goodbye).rawValue)
            buffer.writeInteger(conversation, endianness: .little)
            buffer.writeInteger(sender, endianness: .little)
            buffer.writeInteger(receiver, endianness: .little)
        }
        return buffer
    }

    private static func uint32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24
    }
}
