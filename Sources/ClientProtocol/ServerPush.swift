import MessageModel
import P2PCore

/// What a server sends a client.
public enum ServerPush: Equatable, Sendable {
    /// The answer to ``ClientRequest/hello(_:)``: the client is registered and attached.
    /// `clusterKey` is the cluster's public key and `proof` the server's signature of this link's
    /// channel binding with the cluster key (see `ClusterKey`): the client checks both before it
    /// trusts anything else the server says.
    case welcome(server: NodeID, leader: NodeID?, clusterKey: [UInt8], proof: [UInt8])
    /// The server refuses the client (e.g. its id is bound to another key) and closes the link.
    case refused(reason: String)
    /// The fate of a ``ClientRequest/send(request:message:)``.
    case sendResult(request: UInt64, SendResult)
    /// A message from the client's mailbox (or a skip standing in for a refused one).
    case deliver(MailMessage)
    /// The recipient acknowledged a message this client sent: `send` may return.
    case delivered(recipient: NodeID, id: MessageID)
    case queryResult(request: UInt64, QueryResult)
    /// The cluster expired a message this client sent: it will never be delivered.
    case expired(recipient: NodeID, id: MessageID)
    /// The answer to ``ClientRequest/claim(request:_:)``.
    case claimResult(request: UInt64, ClaimResult)
    /// Another client asked to reach this one directly: try its candidates now.
    case introduction(Introduction)
    /// The answer to ``ClientRequest/connect(request:peer:tcp:udp:)``: the peer's candidates,
    /// or `nil` when the peer is not attached to any server (it cannot be told to punch).
    case connectResult(request: UInt64, Introduction?)
    /// Several results, deliveries and receipts in one frame (within ``FrameBatch``'s bounds;
    /// nothing else, and never nested), sent only to a client that announced ``LinkFeatures/batches``.
    case batch([ServerPush])

    private enum Tag: UInt8 { case welcome = 1, refused, sendResult, deliver, delivered, queryResult, introduction, connectResult, expired, claimResult, batch }

    public func encoded() -> [UInt8] {
        var writer = ByteWriter()
        writer.write(UInt8(1))
        switch self {
        case .welcome(let server, let leader, let clusterKey, let proof):
            writer.write(Tag.welcome.rawValue)
            writer.write(server)
            writer.write(optional: leader) { $0.write($1) }
            writer.write(lengthPrefixed: clusterKey)
            writer.write(lengthPrefixed: proof)
        case .refused(let reason):
            writer.write(Tag.refused.rawValue)
            writer.write(reason)
        case .sendResult(let request, let result):
            writer.write(Tag.sendResult.rawValue)
            writer.write(request)
            result.encode(into: &writer)
        case .deliver(let message):
            writer.write(Tag.deliver.rawValue)
            message.encode(into: &writer)
        case .delivered(let recipient, let id):
            writer.write(Tag.delivered.rawValue)
            writer.write(recipient)
            writer.write(id.sender)
            writer.write(id.sequence)
        case .expired(let recipient, let id):
            writer.write(Tag.expired.rawValue)
            writer.write(recipient)
            writer.write(id.sender)
            writer.write(id.sequence)
        case .claimResult(let request, let result):
            writer.write(Tag.claimResult.rawValue)
            writer.write(request)
            result.encode(into: &writer)
        case .queryResult(let request, let result):
            writer.write(Tag.queryResult.rawValue)
            writer.write(request)
            result.encode(into: &writer)
        case .introduction(let introduction):
            writer.write(Tag.introduction.rawValue)
            introduction.encode(into: &writer)
        case .connectResult(let request, let introduction):
            writer.write(Tag.connectResult.rawValue)
            writer.write(request)
            writer.write(optional: introduction) { $1.encode(into: &$0) }
        case .batch(let pushes):
            return Self.batch(encoded: pushes.map { $0.encoded() })
        }
        return writer.bytes
    }

    /// A ``batch(_:)`` frame of pushes already encoded (grouped by ``FrameBatch/pack(_:)``).
    public static func batch(encoded pushes: [[UInt8]]) -> [UInt8] {
        FrameBatch.frame(tag: Tag.batch.rawValue, pushes)
    }

    /// Whether the push may travel in a ``batch(_:)``.
    public var isBatchable: Bool {
        switch self {
        case .sendResult, .deliver, .delivered, .expired, .claimResult: true
        case .welcome, .refused, .queryResult, .introduction, .connectResult, .batch: false
        }
    }

    public init(decoding bytes: [UInt8]) throws(DecodingError) {
        var reader = ByteReader(bytes)
        let version = try reader.readUInt8("push.version")
        guard version == 1 else { throw .malformed(field: "push.version", reason: "unsupported version \(version)") }
        let raw = try reader.readUInt8("push.tag")
        guard let tag = Tag(rawValue: raw) else { throw .malformed(field: "push.tag", reason: "unknown tag \(raw)") }
        switch tag {
        case .welcome:
            let server = try reader.readNodeID("welcome.server")
            let leader = try reader.readOptional("welcome.leader") { r throws(DecodingError) in try r.readNodeID("welcome.leader") }
            let clusterKey = try reader.readLengthPrefixed("welcome.clusterKey")
            let proof = try reader.readLengthPrefixed("welcome.proof")
            guard clusterKey.count == 32, proof.count == 64 else {
                throw .malformed(field: "welcome.proof", reason: "a cluster key of 32 bytes and a proof of 64 expected")
            }
            self = .welcome(server: server, leader: leader, clusterKey: clusterKey, proof: proof)
        case .refused:
            self = .refused(reason: try reader.readString("refused.reason"))
        case .sendResult:
            let request = try reader.readUInt64("result.request")
            self = .sendResult(request: request, try SendResult.decode(from: &reader))
        case .deliver:
            self = .deliver(try MailMessage.decode(from: &reader))
        case .delivered:
            let recipient = try reader.readNodeID("delivered.recipient")
            let sender = try reader.readNodeID("delivered.sender")
            self = .delivered(recipient: recipient, id: MessageID(sender: sender, sequence: try reader.readUInt64("delivered.sequence")))
        case .expired:
            let recipient = try reader.readNodeID("expired.recipient")
            let sender = try reader.readNodeID("expired.sender")
            self = .expired(recipient: recipient, id: MessageID(sender: sender, sequence: try reader.readUInt64("expired.sequence")))
        case .claimResult:
            let request = try reader.readUInt64("claim.request")
            self = .claimResult(request: request, try ClaimResult.decode(from: &reader))
        case .queryResult:
            let request = try reader.readUInt64("query.request")
            self = .queryResult(request: request, try QueryResult.decode(from: &reader))
        case .introduction:
            self = .introduction(try Introduction.decode(from: &reader))
        case .connectResult:
            let request = try reader.readUInt64("connect.request")
            self = .connectResult(request: request, try reader.readOptional("connect.introduction") { r throws(DecodingError) in try Introduction.decode(from: &r) })
        case .batch:
            self = .batch(try FrameBatch.decode(from: &reader, field: "push.batch", tag: Tag.batch.rawValue, { bytes throws(DecodingError) in try ServerPush(decoding: bytes) }, isBatchable: \.isBatchable))
        }
        try reader.expectEnd()
    }
}

/// The answer to a ``ClientRequest/Query``.
public enum QueryResult: Equatable, Sendable {
    case servers(leader: NodeID?, members: [NodeID])
    /// The answer to ``ClientRequest/Query/clients``: the registry's first page only.
    case clients([ClientRecord])
    case client(ClientRecord?)
    /// The server cannot answer authoritatively now (e.g. its replica is catching up): ask another.
    case unavailable(String)
    /// The answer to ``ClientRequest/Query/clientPage(after:limit:)``: records ordered by id, and
    /// whether more follow (ask again after the last one listed).
    case clientPage([ClientRecord], more: Bool)

    func encode(into writer: inout ByteWriter) {
        switch self {
        case .servers(let leader, let members):
            writer.write(UInt8(1))
            writer.write(optional: leader) { $0.write($1) }
            writer.write(array: members) { $0.write($1) }
        case .clients(let records):
            writer.write(UInt8(2))
            writer.write(array: records) { $1.encode(into: &$0) }
        case .client(let record):
            writer.write(UInt8(3))
            writer.write(optional: record) { $1.encode(into: &$0) }
        case .unavailable(let reason):
            writer.write(UInt8(4))
            writer.write(reason)
        case .clientPage(let records, let more):
            writer.write(UInt8(5))
            writer.write(array: records) { $1.encode(into: &$0) }
            writer.write(more)
        }
    }

    static func decode(from reader: inout ByteReader) throws(DecodingError) -> QueryResult {
        let kind = try reader.readUInt8("query.kind")
        switch kind {
        case 1:
            let leader = try reader.readOptional("servers.leader") { r throws(DecodingError) in try r.readNodeID("servers.leader") }
            return .servers(leader: leader, members: try reader.readArray("servers.members", limit: 1024) { r throws(DecodingError) in try r.readNodeID("servers.member") })
        // Records come from the replicated state (a server's answer), which may hold records
        // stored before the caps: only the structural bounds apply here.
        case 2:
            return .clients(try reader.readArray("clients", limit: 1 << 20) { r throws(DecodingError) in try ClientRecord.decode(from: &r, enforcingLimits: false) })
        case 3:
            return .client(try reader.readOptional("client") { r throws(DecodingError) in try ClientRecord.decode(from: &r, enforcingLimits: false) })
        case 4:
            return .unavailable(try reader.readString("query.unavailable"))
        case 5:
            let records = try reader.readArray("clients", limit: ClientRequest.maximumClientsPerPage) { r throws(DecodingError) in
                try ClientRecord.decode(from: &r, enforcingLimits: false)
            }
            return .clientPage(records, more: try reader.readBool("clients.more"))
        default:
            throw .malformed(field: "query.kind", reason: "unknown kind \(kind)")
        }
    }
}
