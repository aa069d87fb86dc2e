import MessageModel
import P2PCore

/// What a client asks of a server. The first request on a link must be ``hello(_:)``.
public enum ClientRequest: Equatable, Sendable {
    /// Registers the client (its key is the one its link proved) and attaches it to the server.
    case hello(ClientHello)
    /// Accepts `message` into its recipient's mailbox through Raft; answered by ``ServerPush/sendResult(request:_:)``.
    case send(request: UInt64, message: MailMessage)
    /// The client's application received `id` (a message addressed to this client).
    case acknowledge(MessageID)
    /// The client is about to deliver `id` (a message to it that carries an expiry): the cluster
    /// decides whether it still may (docs/DELIVERY.md, "Expiry"). Answered by
    /// ``ServerPush/claimResult(request:_:)``.
    case claim(request: UInt64, MessageID)
    /// Whether this server should push the client's mail to it (one server does at a time).
    case subscribe(Bool)
    /// A lookup; answered by ``ServerPush/queryResult(request:_:)``.
    case query(request: UInt64, Query)
    /// Asks the server to introduce this client to `peer` for a direct path; `tcp` and `udp` are
    /// this client's own candidates. Answered by ``ServerPush/connectResult(request:_:)``.
    case connect(request: UInt64, peer: NodeID, tcp: [String], udp: [String])
    /// The peers this client has a direct path to right now (for operators).
    case directPeers([NodeID])
    /// The client's paths to its peers, for operators' diagnostics (at most
    /// ``PathReport/maximumPeers``; untrusted, see ``PathReport``).
    case pathReport([PathReport])
    /// Several sends and acknowledgements in one frame (within ``FrameBatch``'s bounds; nothing
    /// else, and never nested), sent only to a server that announced ``LinkFeatures/batches``.
    case batch([ClientRequest])

    /// What a client can look up.
    public enum Query: Equatable, Sendable {
        case servers
        /// The registry's first page, answered as ``QueryResult/clients(_:)`` (which cannot say
        /// whether more follow): what clients from before pagination ask. New clients ask
        /// ``clientPage(after:limit:)``.
        case clients
        case client(NodeID)
        /// One page of the registry, ordered by id: clients after `after` (from the first when
        /// `nil`), at most `limit` of them — and never more than ``ClientRequest/maximumClientsPerPage``,
        /// whatever is asked. Answered by ``QueryResult/clientPage(_:more:)``.
        case clientPage(after: NodeID?, limit: UInt32)
    }

    /// The most clients one answer lists (a ``Query/clientPage(after:limit:)`` asking for more
    /// gets this many, and an old ``Query/clients`` the first this many).
    public static let maximumClientsPerPage = 1_000

    private enum Tag: UInt8 { case hello = 1, send, acknowledge, subscribe, query, connect, directPeers, pathReport, claim, batch }

    public func encoded() -> [UInt8] {
        var writer = ByteWriter()
        writer.write(UInt8(1))
        switch self {
        case .hello(let hello):
            writer.write(Tag.hello.rawValue)
            hello.encode(into: &writer)
        case .send(let request, let message):
            writer.write(Tag.send.rawValue)
            writer.write(request)
            message.encode(into: &writer)
        case .acknowledge(let id):
            writer.write(Tag.acknowledge.rawValue)
            writer.write(id.sender)
            writer.write(id.sequence)
        case .claim(let request, let id):
            writer.write(Tag.claim.rawValue)
            writer.write(request)
            writer.write(id.sender)
            writer.write(id.sequence)
        case .subscribe(let on):
            writer.write(Tag.subscribe.rawValue)
            writer.write(on)
        case .query(let request, let query):
            writer.write(Tag.query.rawValue)
            writer.write(request)
            switch query {
            case .servers: writer.write(UInt8(1))
            case .clients: writer.write(UInt8(2))
            case .client(let id):
                writer.write(UInt8(3))
                writer.write(id)
            case .clientPage(let after, let limit):
                writer.write(UInt8(4))
                writer.write(optional: after) { $0.write($1) }
                writer.write(limit)
            }
        case .connect(let request, let peer, let tcp, let udp):
            writer.write(Tag.connect.rawValue)
            writer.write(request)
            writer.write(peer)
            writer.write(array: tcp) { $0.write($1) }
            writer.write(array: udp) { $0.write($1) }
        case .directPeers(let peers):
            writer.write(Tag.directPeers.rawValue)
            writer.write(array: peers) { $0.write($1) }
        case .pathReport(let reports):
            writer.write(Tag.pathReport.rawValue)
            writer.write(array: reports) { $1.encode(into: &$0) }
        case .batch(let requests):
            return Self.batch(encoded: requests.map { $0.encoded() })
        }
        return writer.bytes
    }

    /// A ``batch(_:)`` frame of requests already encoded (each a send or an acknowledgement,
    /// grouped by ``FrameBatch/pack(_:)``).
    public static func batch(encoded requests: [[UInt8]]) -> [UInt8] {
        FrameBatch.frame(tag: Tag.batch.rawValue, requests)
    }

    /// Whether the request may travel in a ``batch(_:)``.
    public var isBatchable: Bool {
        switch self {
        case .send, .acknowledge: true
        case .hello, .claim, .subscribe, .query, .connect, .directPeers, .pathReport, .batch: false
        }
    }

    /// Decodes a request; anything malformed is a ``DecodingError``, and so is any field or count
    /// over ``ClientRecord/Limits`` (addresses, candidates, direct peers).
    public init(decoding bytes: [UInt8]) throws(DecodingError) {
        var reader = ByteReader(bytes)
        let version = try reader.readUInt8("request.version")
        guard version == 1 else { throw .malformed(field: "request.version", reason: "unsupported version \(version)") }
        let raw = try reader.readUInt8("request.tag")
        guard let tag = Tag(rawValue: raw) else { throw .malformed(field: "request.tag", reason: "unknown tag \(raw)") }
        switch tag {
        case .hello:
            self = .hello(try ClientHello.decode(from: &reader))
        case .send:
            let request = try reader.readUInt64("send.request")
            self = .send(request: request, message: try MailMessage.decode(from: &reader))
        case .acknowledge:
            let sender = try reader.readNodeID("ack.sender")
            self = .acknowledge(MessageID(sender: sender, sequence: try reader.readUInt64("ack.sequence")))
        case .claim:
            let request = try reader.readUInt64("claim.request")
            let sender = try reader.readNodeID("claim.sender")
            self = .claim(request: request, MessageID(sender: sender, sequence: try reader.readUInt64("claim.sequence")))
        case .subscribe:
            self = .subscribe(try reader.readBool("subscribe.on"))
        case .query:
            let request = try reader.readUInt64("query.request")
            let kind = try reader.readUInt8("query.kind")
            switch kind {
            case 1: self = .query(request: request, .servers)
            case 2: self = .query(request: request, .clients)
            case 3: self = .query(request: request, .client(try reader.readNodeID("query.client")))
            case 4:
                let after = try reader.readOptional("query.after") { r throws(DecodingError) in try r.readNodeID("query.after") }
                self = .query(request: request, .clientPage(after: after, limit: try reader.readUInt32("query.limit")))
            default: throw .malformed(field: "query.kind", reason: "unknown kind \(kind)")
            }
        case .connect:
            let request = try reader.readUInt64("connect.request")
            let peer = try reader.readNodeID("connect.peer")
            let tcp = try reader.readAddresses("connect.tcp", limit: ClientRecord.Limits.maximumCandidates)
            let udp = try reader.readAddresses("connect.udp", limit: ClientRecord.Limits.maximumCandidates)
            self = .connect(request: request, peer: peer, tcp: tcp, udp: udp)
        case .directPeers:
            self = .directPeers(try reader.readArray("direct.peers", limit: ClientRecord.Limits.maximumDirectPeers) { r throws(DecodingError) in
                try r.readNodeID("direct.peer")
            })
        case .pathReport:
            self = .pathReport(try reader.readArray("path.reports", limit: PathReport.maximumPeers) { r throws(DecodingError) in
                try PathReport.decode(from: &r)
            })
        case .batch:
            self = .batch(try FrameBatch.decode(from: &reader, field: "request.batch", tag: Tag.batch.rawValue, { bytes throws(DecodingError) in try ClientRequest(decoding: bytes) }, isBatchable: \.isBatchable))
        }
        try reader.expectEnd()
    }
}

/// How a client introduces itself to a server.
public struct ClientHello: Equatable, Sendable {
    /// Addresses on the client's own interfaces (`host:port`), for direct links: at most
    /// ``ClientRecord/Limits/maximumLANAddresses``, each at most ``ClientRecord/Limits/maximumAddressLength`` bytes.
    public var lanAddresses: [String]
    /// Where the client listens for direct links (at most ``ClientRecord/Limits/maximumListenAddressLength`` bytes).
    public var listenAddress: String
    public var listenPort: UInt16
    /// Whether this server should push the client's mail (see ``ClientRequest/subscribe(_:)``).
    public var subscribe: Bool

    public init(lanAddresses: [String] = [], listenAddress: String = "", listenPort: UInt16 = 0, subscribe: Bool) {
        self.lanAddresses = lanAddresses
        self.listenAddress = listenAddress
        self.listenPort = listenPort
        self.subscribe = subscribe
    }

    func encode(into writer: inout ByteWriter) {
        writer.write(array: lanAddresses) { $0.write($1) }
        writer.write(listenAddress)
        writer.write(listenPort)
        writer.write(subscribe)
    }

    static func decode(from reader: inout ByteReader) throws(DecodingError) -> ClientHello {
        ClientHello(
            lanAddresses: try reader.readAddresses("hello.lan", limit: ClientRecord.Limits.maximumLANAddresses),
            listenAddress: try reader.readString("hello.listenAddress", maximumLength: ClientRecord.Limits.maximumListenAddressLength),
            listenPort: try reader.readUInt16("hello.listenPort"),
            subscribe: try reader.readBool("hello.subscribe")
        )
    }
}
