import AdminProtocol
import ClientProtocol
import Mailbox
import MessageModel
import NIOCore
import P2PCore
import P2PServer
import Raft
import ReliableDatagram
import Transport
import WireCodec

/// `frames`: every public decoder, fed mutated valid encodings and arbitrary bytes. Invariants:
/// no trap, and `decode(encode(x)) == x` for every value that decoded.
///
/// Covered: WireCodec's FrameDecoder (whole and in chunks), ClientRequest (with ClientHello and
/// batches), ServerPush (with batches), Introduction, MailMessage, ClientRecord, MailboxCommand, MailboxOutcome,
/// RaftMessage, HardState, SnapshotMetadata, LogEntry payloads, AdminEnvelope/AdminRequest and
/// AdminResponse (JSON), KCP datagrams into a ReliableDatagramSession, the P2PServer frames
/// (ServerHello, PeerMessage with every request, reply and relay, ServerConnectRequest), the
/// Transport UDP datagrams (UDPObserveRequest/Reply with valid MACs and signatures, UDPProbe) and
/// the link handshake's hello (the last two groups through their `package` decoders).
struct FramesDriver: FuzzDriver {
    static let ids = (1...3).map { NodeID(bytes: [UInt8](repeating: 0, count: 15) + [UInt8($0)]) ?? .random() }
    /// Checks the generators instead (for tests): valid encodings are decoded unmutated and must decode.
    var unmutated = false

    mutating func run(_ random: inout FuzzRandom) -> FuzzVerdict {
        switch random.below(15) {
        case 0: return frameDecoder(&random)
        case 1: return byteCodec(&random, Self.clientRequest) { try ClientRequest(decoding: $0) } encode: { $0.encoded() }
        case 2: return byteCodec(&random, Self.serverPush) { try ServerPush(decoding: $0) } encode: { $0.encoded() }
        case 3: return byteCodec(&random, Self.introduction) { try Self.decoding($0, Introduction.decode) } encode: { Self.encoding($0) { v, w in v.encode(into: &w) } }
        case 4: return byteCodec(&random, Self.mailMessage) { try Self.decoding($0, MailMessage.decode) } encode: { Self.encoding($0) { v, w in v.encode(into: &w) } }
        case 5: return byteCodec(&random, Self.clientRecord) { try Self.decoding($0) { r throws(DecodingError) in try ClientRecord.decode(from: &r) } } encode: { Self.encoding($0) { v, w in v.encode(into: &w) } }
        case 6: return byteCodec(&random, MailboxApplyDriver.command) { try MailboxCommand(decoding: $0) } encode: { $0.encoded() }
        case 7: return byteCodec(&random, Self.outcome) { try Self.decoding($0, MailboxOutcome.decode) } encode: { Self.encoding($0) { v, w in v.encode(into: &w) } }
        case 8: return raftTypes(&random)
        case 9: return byteCodec(&random, Self.adminRequest) { try AdminProtocol.decode(AdminRequest.self, from: $0) } encode: { (try? AdminProtocol.encode($0)) ?? [] }
        case 10: return byteCodec(&random, Self.adminResponse) { try AdminProtocol.decode(AdminResponse.self, from: $0) } encode: { (try? AdminProtocol.encode($0)) ?? [] }
        case 11: return serverFrames(&random)
        case 12: return transportDatagrams(&random)
        default: return datagrams(&random)
        }
    }

    // MARK: Server and transport frames

    func serverFrames(_ random: inout FuzzRandom) -> FuzzVerdict {
        switch random.below(5) {
        case 0:
            return byteCodec(&random, { r in
                ServerHello(address: r.string(), isMember: r.oneIn(2), configuredPeers: Int(truncatingIfNeeded: r.integer(small: 8) & 0xFFFF_FFFF),
                            formedVoters: (0..<r.below(4)).map { _ in r.nodeID(Self.ids) },
                            neighbours: (0..<r.below(4)).map { _ in ServerHello.Neighbour(id: r.nodeID(Self.ids), address: r.string()) })
            }) { try ServerHello(decoding: $0) } encode: { $0.encoded() }
        case 1, 2, 3:
            return byteCodec(&random, { r in Self.peerMessage(&r) }) { try PeerMessage(decoding: $0) } encode: { $0.encoded() }
        default:
            return byteCodec(&random, { r in ServerConnectRequest(target: r.oneIn(2) ? r.nodeID(Self.ids) : nil, address: r.string()) }) {
                try ServerConnectRequest(decoding: $0)
            } encode: { $0.encoded() }
        }
    }

    /// Any message between servers; a relay carries one message that a relay may carry.
    static func peerMessage(_ r: inout FuzzRandom) -> PeerMessage {
        let inner = peerMessage(&r, relayable: true)
        switch r.below(10) {
        case 0: return .connectServer(ServerConnectRequest(target: r.oneIn(2) ? r.nodeID(ids) : nil, address: r.string()))
        case 1: return .introduceServer(introduction(&r))
        case 2: return .relay(to: r.nodeID(ids), inner)
        case 3: return .relayed(from: r.nodeID(ids), inner)
        default: return inner
        }
    }

    private static func peerMessage(_ r: inout FuzzRandom, relayable: Bool) -> PeerMessage {
        switch r.below(5) {
        case 0:
            return .hello(ServerHello(address: r.string(), isMember: r.oneIn(2), configuredPeers: r.below(8)))
        case 1:
            let body: RaftMessage.Body = r.oneIn(2)
                ? .heartbeat(commit: r.integer(small: 8) & 0xFFFF, readRound: r.integer())
                : .propose(commands: (0..<(1 + r.below(3))).map { _ in r.bytes(r.below(8)) })
            return .raft(RaftMessage(from: r.nodeID(ids), to: r.nodeID(ids), term: r.integer(small: 8) & 0xFFFF, body: body))
        case 2:
            return .request(r.integer(), r.oneIn(2) ? .commit(MailboxApplyDriver.command(&r)) : .admin(adminRequest(&r)))
        case 3:
            let reply: PeerReply = switch r.below(3) {
            case 0: .committed(outcome(&r))
            case 1: .retry(r.string())
            default: .admin(adminResponse(&r))
            }
            return .reply(r.integer(), reply)
        default:
            return .introduceClient(client: r.nodeID(ids), introduction(&r))
        }
    }

    /// Shared by every input: signing keys are slow to make, and the decoders only read them.
    static let authenticator = UDPDatagramAuthenticator(secret: "fuzz-secret")
    static let identity = NodeIdentity.generate()

    /// The UDP datagrams and the handshake hello. The datagram decoders return nil rather than
    /// throw; a value that decoded must re-encode to a datagram that decodes to it again.
    func transportDatagrams(_ random: inout FuzzRandom) -> FuzzVerdict {
        struct Failure: Error {}
        switch random.below(5) {
        case 0:
            return byteCodec(&random, { r in UDPObserveRequest(identity: Self.identity, nonce: r.bytes(UDPObserveRequest.nonceSize), timestamp: Int64(bitPattern: r.integer())) }) {
                guard let value = UDPObserveRequest.decode($0, authenticator: Self.authenticator) else { throw Failure() }
                return value
            } encode: { (try? $0.encoded(signedBy: Self.identity, authenticator: Self.authenticator)) ?? [] }
        case 1:
            return byteCodec(&random, { r in UDPObserveReply(nonce: r.bytes(UDPObserveRequest.nonceSize), address: Self.observedAddress(&r)) }) {
                guard let value = UDPObserveReply.decode($0, authenticator: Self.authenticator) else { throw Failure() }
                return value
            } encode: { $0.encoded(authenticator: Self.authenticator) }
        case 2:
            return byteCodec(&random, { r in UDPProbe(isAcknowledgement: r.oneIn(2), token: r.bytes(1 + r.below(64)), tag: r.integer()) }) {
                guard let value = UDPProbe.decode($0) else { throw Failure() }
                return value
            } encode: { $0.encoded }
        case 3:
            return byteCodec(&random, { r in Self.tunnelDatagram(&r) }) {
                guard let value = UDPTunnelDatagram(decoding: $0) else { throw Failure() }
                return value
            } encode: { Array($0.encoded.readableBytesView) }
        default:
            // Hello is not Equatable: compared by its encoding.
            let make = { (r: inout FuzzRandom) in
                Handshake.Hello(id: r.nodeID(Self.ids), incarnation: r.integer(), role: r.pick([.client, .server, .admin]),
                                identityKey: r.bytes(32), ephemeralKey: r.bytes(32), nonce: r.bytes(32)).encoded()
            }
            return byteCodec(&random, make) { try Handshake.Hello.decode($0).encoded() } encode: { $0 }
        }
    }

    /// A tunnel datagram whose segment starts with its conversation, as a KCP header does.
    static func tunnelDatagram(_ r: inout FuzzRandom) -> UDPTunnelDatagram {
        let conversation = UInt32(truncatingIfNeeded: r.integer())
        let kind: UDPTunnelDatagram.Kind
        switch r.below(3) {
        case 0:
            let header = (0..<4).map { UInt8(truncatingIfNeeded: conversation >> (8 * $0)) }
            kind = .segment(header + r.bytes(r.below(64)))
        case 1: kind = .keepalive
        default: kind = .goodbye
        }
        return UDPTunnelDatagram(
            kind: kind, conversation: conversation,
            sender: UInt32(truncatingIfNeeded: r.integer()), receiver: UInt32(truncatingIfNeeded: r.integer())
        )
    }

    // MARK: Generic checks

    /// Decodes a mutation of a valid encoding; a value that decoded must survive encode/decode.
    func byteCodec<T: Equatable>(
        _ random: inout FuzzRandom, _ make: (inout FuzzRandom) -> T, decode: ([UInt8]) throws -> T, encode: (T) -> [UInt8]
    ) -> FuzzVerdict {
        let valid = encode(make(&random))
        let bytes = unmutated ? valid : Mutator.input(valid: valid, donor: encode(make(&random)), random: &random)
        let decoded: T
        do {
            decoded = try decode(bytes)
        } catch {
            return unmutated ? .violation("\(T.self): a valid encoding does not decode (\(error))") : .ok
        }
        let value = decoded
        guard let again = try? decode(encode(value)) else { return .violation("\(T.self): re-encoding of a decoded value does not decode: \(value)") }
        return again == value ? .ok : .violation("\(T.self): decode(encode(x)) != x for \(value)")
    }

    static func decoding<T>(_ bytes: [UInt8], _ decode: (inout ByteReader) throws(DecodingError) -> T) throws -> T {
        var reader = ByteReader(bytes)
        let value = try decode(&reader)
        try reader.expectEnd()
        return value
    }

    static func encoding<T>(_ value: T, _ encode: (T, inout ByteWriter) -> Void) -> [UInt8] {
        var writer = ByteWriter()
        encode(value, &writer)
        return writer.bytes
    }

    // MARK: Frames

    /// A stream of frames, mutated, decoded whole and in random chunks: both must agree, and
    /// each frame must re-encode to itself.
    func frameDecoder(_ random: inout FuzzRandom) -> FuzzVerdict {
        var stream = ByteBuffer()
        for _ in 0..<(1 + random.below(3)) {
            let frame = Frame(type: UInt8(truncatingIfNeeded: random.next()), bytes: random.bytes(random.below(40)))
            try? FrameEncoder().encode(data: frame, out: &stream)
        }
        let bytes = Mutator.input(valid: Array(stream.readableBytesView), random: &random)
        let decoder = FrameDecoder(maximumFrameSize: random.oneIn(2) ? 64 : 16 << 20)
        func decodeAll(_ chunks: [[UInt8]]) -> ([Frame], failed: Bool) {
            var buffer = ByteBuffer()
            var frames: [Frame] = []
            for chunk in chunks {
                buffer.writeBytes(chunk)
                do {
                    while let frame = try decoder.decode(buffer: &buffer) { frames.append(frame) }
                } catch {
                    return (frames, true)
                }
            }
            return (frames, false)
        }
        var chunks: [[UInt8]] = []
        var rest = bytes[...]
        while !rest.isEmpty {
            let size = 1 + random.below(max(1, rest.count))
            chunks.append(Array(rest.prefix(size)))
            rest = rest.dropFirst(size)
        }
        let whole = decodeAll([bytes])
        let chunked = decodeAll(chunks)
        if whole.0 != chunked.0 || whole.failed != chunked.failed { return .violation("FrameDecoder: chunked decoding differs from whole") }
        for frame in whole.0 {
            var out = ByteBuffer()
            try? FrameEncoder().encode(data: frame, out: &out)
            guard (try? decoder.decode(buffer: &out)) == frame else { return .violation("Frame does not round-trip: \(frame)") }
        }
        return .ok
    }

    // MARK: Raft types

    func raftTypes(_ random: inout FuzzRandom) -> FuzzVerdict {
        switch random.below(4) {
        case 0:
            return byteCodec(&random, { r in RaftStepDriver.message(to: RaftNode(configuration: RaftConfiguration(id: Self.ids[0])), hostile: r.oneIn(2), &r) }) {
                try RaftMessage(decoding: $0)
            } encode: { $0.encoded() }
        case 1:
            return byteCodec(&random, { r in HardState(term: r.integer(), vote: r.oneIn(2) ? r.nodeID(Self.ids) : nil, commit: r.integer()) }) {
                try HardState(decoding: $0)
            } encode: { $0.encoded() }
        case 2:
            return byteCodec(&random, { r in SnapshotMetadata(index: r.integer(), term: r.integer(), membership: Membership(voters: Set(Self.ids.prefix(r.below(4))), learners: [r.nodeID([])])) }) {
                try SnapshotMetadata(decoding: $0)
            } encode: { $0.encoded() }
        default:
            let (index, term) = (random.integer(), random.integer())
            return byteCodec(&random, { r in LogEntry(index: index, term: term, kind: r.pick([.normal, .noop, .membership]), data: r.bytes(r.below(12))) }) {
                try LogEntry(index: index, term: term, decodingPayload: $0)
            } encode: { $0.encodedPayload() }
        }
    }

    // MARK: KCP

    /// Datagrams of a real conversation, mutated (or arbitrary), fed to a session with clock
    /// updates; the session must neither trap nor hand out more than it can hold.
    func datagrams(_ random: inout FuzzRandom) -> FuzzVerdict {
        let conversation = UInt32(truncatingIfNeeded: random.next() % 3)
        guard var sender = try? ReliableDatagramSession(settings: .fast(conversation: conversation)),
              var receiver = try? ReliableDatagramSession(settings: random.oneIn(2) ? .fast(conversation: conversation) : .init(conversation: conversation))
        else { return .violation("ReliableDatagramSession refused its own settings") }
        var clock = UInt32(truncatingIfNeeded: random.oneIn(4) ? UInt64.max - UInt64(random.below(1000)) : random.next() % 100_000)
        for _ in 0..<(1 + random.below(3)) {
            try? sender.send(message: random.bytes(random.oneIn(4) ? random.below(5000) : random.below(40)))
        }
        sender.update(current: clock)
        var outgoing = sender.drainOutbox()
        for _ in 0..<(1 + random.below(6)) {
            let datagram: [UInt8]
            if !outgoing.isEmpty && !random.oneIn(5) {
                let valid = outgoing.removeFirst()
                datagram = random.oneIn(3) ? valid : Mutator.input(valid: valid, donor: outgoing.first ?? [], random: &random)
            } else {
                datagram = random.bytes(random.below(120))
            }
            _ = ReliableDatagramSession.conversation(of: datagram)
            try? receiver.input(datagram: datagram)
            clock &+= UInt32(random.below(300))
            receiver.update(current: clock)
            _ = receiver.check(current: clock)
            while let size = receiver.nextMessageSize {
                guard let message = receiver.receive() else { return .violation("nextMessageSize \(size) but receive() returned nil") }
                if message.count != size { return .violation("nextMessageSize \(size) but a message of \(message.count) bytes") }
            }
            for answer in receiver.drainOutbox() { try? sender.input(datagram: answer) }
            sender.update(current: clock)
            outgoing += sender.drainOutbox()
        }
        return .ok
    }

    // MARK: Values

    /// An address a server reports seeing: never empty (the decoder refuses an empty one) and at
    /// most 64 bytes (the encoder truncates longer ones, possibly inside a character).
    static func observedAddress(_ random: inout FuzzRandom) -> String {
        if random.oneIn(3) { return "h" + random.string(maximum: 20) }
        return "\(random.below(256)).\(random.below(256)).\(random.below(256)).\(random.below(256)):\(random.below(65536))"
    }

    static func mailMessage(_ random: inout FuzzRandom) -> MailMessage {
        MailMessage(id: MessageID(sender: random.nodeID(ids), sequence: random.integer()), recipient: random.nodeID(ids),
                    payload: random.bytes(random.below(24)), enqueuedAtMillis: random.integer(), isSkip: random.oneIn(6))
    }

    static func clientRecord(_ random: inout FuzzRandom) -> ClientRecord {
        ClientRecord(id: random.nodeID(ids), publicKey: random.bytes(32), lanAddresses: [random.string()], wanAddresses: (0..<random.below(3)).map { _ in random.string() },
                     listenAddress: random.string(), listenPort: UInt16(truncatingIfNeeded: random.next()), attachedServers: [random.nodeID(ids)],
                     lastSeenMillis: random.integer(), relayedMessages: random.integer(), relayedBytes: random.integer())
    }

    static func introduction(_ random: inout FuzzRandom) -> Introduction {
        Introduction(peer: random.nodeID(ids), tcp: [random.string()], udp: (0..<random.below(3)).map { _ in random.string() },
                     token: random.bytes(random.below(32)), conversation: UInt32(truncatingIfNeeded: random.next()), initiator: random.oneIn(2))
    }

    static func outcome(_ random: inout FuzzRandom) -> MailboxOutcome {
        random.pick([.stored, .alreadyDelivered, .mailboxFull(messages: random.below(10), bytes: random.below(1000)), .unknownRecipient, .keyMismatch,
                     .done, .notFound, .purged(count: random.below(9)), .skipAcknowledged, .invalidCommand])
    }

    static func clientRequest(_ random: inout FuzzRandom) -> ClientRequest {
        switch random.below(8) {
        case 7: .batch((0...random.below(3)).map { _ in random.oneIn(2) ? .send(request: random.integer(), message: mailMessage(&random)) : .acknowledge(MessageID(sender: random.nodeID(ids), sequence: random.integer())) })
        case 0: .hello(ClientHello(lanAddresses: [random.string()], listenAddress: random.string(), listenPort: UInt16(truncatingIfNeeded: random.next()), subscribe: random.oneIn(2)))
        case 1: .send(request: random.integer(), message: mailMessage(&random))
        case 2: .acknowledge(MessageID(sender: random.nodeID(ids), sequence: random.integer()))
        case 3: .subscribe(random.oneIn(2))
        case 4: .query(request: random.integer(), random.pick([.servers, .clients, .client(random.nodeID(ids)), .clientPage(after: random.oneIn(2) ? random.nodeID(ids) : nil, limit: UInt32(truncatingIfNeeded: random.integer()))]))
        case 5: .connect(request: random.integer(), peer: random.nodeID(ids), tcp: [random.string()], udp: [random.string(), random.string()])
        default: .directPeers((0..<random.below(4)).map { _ in random.nodeID(ids) })
        }
    }

    static func serverPush(_ random: inout FuzzRandom) -> ServerPush {
        switch random.below(9) {
        case 8:
            return .batch((0...random.below(3)).map { _ in random.oneIn(2) ? .sendResult(request: random.integer(), .stored) : .deliver(mailMessage(&random)) })
        case 0:
            return .welcome(
                server: random.nodeID(ids), leader: random.oneIn(2) ? random.nodeID(ids) : nil,
                clusterKey: [UInt8](repeating: UInt8(truncatingIfNeeded: random.integer()), count: 32), proof: [UInt8](repeating: 7, count: 64)
            )
        case 1: return .refused(reason: random.string())
        case 2:
            let result: SendResult = random.pick([.stored, .alreadyDelivered, .mailboxFull, .unknownRecipient, .tooLarge(limit: random.below(1 << 20)), .unavailable(reason: random.string())])
            return .sendResult(request: random.integer(), result)
        case 3: return .deliver(mailMessage(&random))
        case 4: return .delivered(recipient: random.nodeID(ids), id: MessageID(sender: random.nodeID(ids), sequence: random.integer()))
        case 5:
            let result: QueryResult = random.pick([.servers(leader: random.nodeID(ids), members: ids), .clients([clientRecord(&random)]), .client(random.oneIn(2) ? clientRecord(&random) : nil), .unavailable(random.string()), .clientPage([clientRecord(&random)], more: random.oneIn(2))])
            return .queryResult(request: random.integer(), result)
        case 6: return .introduction(introduction(&random))
        default: return .connectResult(request: random.integer(), random.oneIn(2) ? introduction(&random) : nil)
        }
    }

    static func adminRequest(_ random: inout FuzzRandom) -> AdminRequest {
        let id = random.nodeID(ids)
        let request: AdminRequest = random.pick([
            .status, .serverStatus, .clients, .clientPage(after: random.oneIn(2) ? id : nil, limit: random.below(3000) - 50),
            .mailbox(client: id, peek: random.below(100) - 50, after: random.oneIn(2) ? random.integer() : nil), .purge(client: id),
            .delete(client: id, message: MessageID(sender: id, sequence: random.integer())), .addServer(address: random.string()),
            .removeServer(id), .transferLeadership(target: random.oneIn(2) ? id : nil), .snapshot, .digest,
        ])
        return request
    }

    static func adminResponse(_ random: inout FuzzRandom) -> AdminResponse {
        random.pick([
            .done(detail: random.string()), .digest(appliedIndex: random.integer(), sha256: random.string()),
            .failed(AdminFailure(random.pick([.notFound, .invalid, .unavailable, .unauthorized]), random.string())),
            .clients([]), .clientPage([], next: random.oneIn(2) ? random.nodeID(ids) : nil),
        ])
    }
}
