import ClientProtocol
import P2PCore
import Raft

/// Everything one server says to another: the payload of every ``Transport/FrameType/serverPeer``
/// frame. Who may send what is checked where it is received (``PeerMesh``, docs/SECURITY.md).
package indirect enum PeerMessage: Equatable, Sendable {
    /// What the sender says about itself: its first message on a link, and again when it changed.
    case hello(ServerHello)
    /// A Raft message (forwarded proposals and read-index requests included).
    case raft(RaftMessage)
    /// A request wanting a ``reply(_:_:)`` with the same number (see ``PeerRequest``).
    case request(UInt64, PeerRequest)
    /// The answer to the receiver's request of that number.
    case reply(UInt64, PeerReply)
    /// An introduction for `client`, a client attached to the receiver.
    case introduceClient(client: NodeID, Introduction)
    /// The sender asks a member for an introduction to a server it cannot dial.
    case connectServer(ServerConnectRequest)
    /// A member introduces the receiver to another server, for hole punching.
    case introduceServer(Introduction)
    /// A message for server `to`, which the sender has no link to: the receiver passes it on.
    case relay(to: NodeID, PeerMessage)
    /// A message a relay passes on from server `from`.
    case relayed(from: NodeID, PeerMessage)
    /// Acknowledgements clients attached to the sender gave for mail of clients attached to the
    /// receiver (at most ``DeliveryReceipt/maximumPerMessage``).
    case receipts([DeliveryReceipt])
    /// A Raft snapshot streamed in chunks, and its acknowledgements (see ``SnapshotTransfer``).
    case snapshot(SnapshotTransfer)

    /// Whether a relay may carry the message: anything but a link's own bookkeeping (relays,
    /// introductions for hole punching), so a relayed message is never relayed again.
    package var isRelayable: Bool {
        switch self {
        case .relay, .relayed, .connectServer, .introduceServer: false
        case .hello, .raft, .request, .reply, .introduceClient, .receipts, .snapshot: true
        }
    }

    private enum Tag: UInt8 {
        case hello = 1, raft, request, reply, introduceClient, connectServer, introduceServer, relay, relayed, receipts, snapshot
    }

    /// Whether `bytes` encode a message whose handling never waits (Raft traffic, a request,
    /// a reply or receipts), by its type byte only.
    package static func isHandledAtOnce(_ bytes: [UInt8]) -> Bool {
        switch bytes.first.flatMap(Tag.init(rawValue:)) {
        case .raft?, .request?, .reply?, .receipts?: true
        default: false
        }
    }

    package func encoded() -> [UInt8] {
        var writer = ByteWriter()
        encode(into: &writer)
        return writer.bytes
    }

    private func encode(into writer: inout ByteWriter) {
        switch self {
        case .hello(let hello):
            writer.write(Tag.hello.rawValue)
            writer.write(lengthPrefixed: hello.encoded())
        case .raft(let message):
            writer.write(Tag.raft.rawValue)
            writer.write(lengthPrefixed: message.encoded())
        case .request(let number, let request):
            writer.write(Tag.request.rawValue)
            writer.write(number)
            request.encode(into: &writer)
        case .reply(let number, let reply):
            writer.write(Tag.reply.rawValue)
            writer.write(number)
            reply.encode(into: &writer)
        case .introduceClient(let client, let introduction):
            writer.write(Tag.introduceClient.rawValue)
            writer.write(client)
            introduction.encode(into: &writer)
        case .connectServer(let request):
            writer.write(Tag.connectServer.rawValue)
            writer.write(lengthPrefixed: request.encoded())
        case .introduceServer(let introduction):
            writer.write(Tag.introduceServer.rawValue)
            introduction.encode(into: &writer)
        case .relay(let peer, let message):
            writer.write(Tag.relay.rawValue)
            writer.write(peer)
            message.encode(into: &writer)
        case .relayed(let peer, let message):
            writer.write(Tag.relayed.rawValue)
            writer.write(peer)
            message.encode(into: &writer)
        case .receipts(let receipts):
            writer.write(Tag.receipts.rawValue)
            writer.write(array: receipts) { $1.encode(into: &$0) }
        case .snapshot(let transfer):
            writer.write(Tag.snapshot.rawValue)
            transfer.encode(into: &writer)
        }
    }

    /// Decodes a message; a relay inside a relay (or any message a relay may not carry inside
    /// one) is refused, so nesting is one level deep at most.
    package init(decoding bytes: [UInt8]) throws(DecodingError) {
        var reader = ByteReader(bytes)
        self = try Self.decode(from: &reader, nested: false)
        try reader.expectEnd()
    }

    private static func decode(from reader: inout ByteReader, nested: Bool) throws(DecodingError) -> PeerMessage {
        let raw = try reader.readUInt8("peer.type")
        guard let tag = Tag(rawValue: raw) else { throw .malformed(field: "peer.type", reason: "unknown message type \(raw)") }
        let message: PeerMessage
        switch tag {
        case .hello: message = .hello(try ServerHello(decoding: try reader.readLengthPrefixed("peer.hello")))
        case .raft: message = .raft(try RaftMessage(decoding: try reader.readLengthPrefixed("peer.raft")))
        case .request: message = .request(try reader.readUInt64("peer.request"), try PeerRequest.decode(from: &reader))
        case .reply: message = .reply(try reader.readUInt64("peer.reply"), try PeerReply.decode(from: &reader))
        case .introduceClient: message = .introduceClient(client: try reader.readNodeID("peer.client"), try Introduction.decode(from: &reader))
        case .connectServer: message = .connectServer(try ServerConnectRequest(decoding: try reader.readLengthPrefixed("peer.connect")))
        case .introduceServer: message = .introduceServer(try Introduction.decode(from: &reader))
        case .receipts:
            message = .receipts(try reader.readArray("peer.receipts", limit: DeliveryReceipt.maximumPerMessage) { r throws(DecodingError) in
                try DeliveryReceipt.decode(from: &r)
            })
        case .snapshot: message = .snapshot(try SnapshotTransfer.decode(from: &reader))
        case .relay, .relayed:
            guard !nested else { throw .malformed(field: "peer.type", reason: "a relay inside a relay") }
            let peer = try reader.readNodeID("peer.relay")
            let inner = try decode(from: &reader, nested: true)
            guard inner.isRelayable else { throw .malformed(field: "peer.relay", reason: "not relayable") }
            message = tag == .relay ? .relay(to: peer, inner) : .relayed(from: peer, inner)
        }
        return message
    }
}
