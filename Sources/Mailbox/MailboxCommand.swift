import MessageModel
import P2PCore

/// A change to the replicated mailbox state: the payload of a Raft log entry.
public enum MailboxCommand: Equatable, Sendable {
    /// Registers a client or updates its addresses; binds the id to `publicKey` the first time.
    case register(ClientRecord)
    /// `client` attached to (or detached from) `server`, at `atMillis`.
    case attach(client: NodeID, server: NodeID, observedAddress: String?, atMillis: UInt64)
    case detach(client: NodeID, server: NodeID, atMillis: UInt64)
    /// Accepts a message into its recipient's mailbox.
    case enqueue(MailMessage)
    /// The recipient's application received the message: remove it, remember it as delivered.
    case acknowledge(recipient: NodeID, id: MessageID)
    /// The leader's clock read `atMillis`: a message whose expiry is at or before it and that its
    /// recipient has not claimed becomes a skip (docs/DELIVERY.md, "Expiry").
    case expire(recipient: NodeID, id: MessageID, atMillis: UInt64)
    /// The recipient is about to deliver a message that carries an expiry: from now on it cannot
    /// expire (answered ``MailboxOutcome/claimed``), unless it already did (``MailboxOutcome/expired``).
    case claim(recipient: NodeID, id: MessageID)
    /// Operator actions.
    case purge(recipient: NodeID)
    case delete(recipient: NodeID, id: MessageID)
    /// A server left the cluster: detach every client from it and drop its address.
    case forgetServer(NodeID)
    /// A server announces the address other servers reach it at (a new server asks to join
    /// this way; the leader then adds it to the Raft membership). A retired server's own
    /// announcement is refused (``MailboxOutcome/serverRetired``).
    case registerServer(id: NodeID, address: String)
    /// An operator removed a server: as ``forgetServer(_:)``, and from now on the server's own
    /// ``registerServer(id:address:)`` is refused, so that neither one in flight at the removal
    /// nor the removed server itself brings it back.
    case retireServer(NodeID)
    /// An operator added a server: lifts a retirement and records the server's address (the
    /// leader then adds it to the Raft membership).
    case admitServer(id: NodeID, address: String)
    /// Several commands in one log entry, applied in order (outcome: ``MailboxOutcome/batch(_:)``,
    /// one per command): a burst of a link's sends or acknowledgements commits as one proposal.
    /// Never nested; at most ``maximumBatch`` commands.
    case batch([MailboxCommand])

    /// Most commands in one ``batch(_:)``.
    public static let maximumBatch = 4096

    private enum Tag: UInt8 {
        case register = 1, attach, detach, enqueue, acknowledge, purge, delete, forgetServer, registerServer, expire, claim, batch
        case retireServer, admitServer
    }

    /// The command's binary form (versioned), as stored in the Raft log.
    public func encoded() -> [UInt8] {
        var writer = ByteWriter()
        writer.write(UInt8(1))  // format version
        switch self {
        case .register(let record):
            writer.write(Tag.register.rawValue)
            record.encode(into: &writer)
        case .attach(let client, let server, let observed, let at):
            writer.write(Tag.attach.rawValue)
            writer.write(client)
            writer.write(server)
            writer.write(optional: observed) { $0.write($1) }
            writer.write(at)
        case .detach(let client, let server, let at):
            writer.write(Tag.detach.rawValue)
            writer.write(client)
            writer.write(server)
            writer.write(at)
        case .enqueue(let message):
            writer.write(Tag.enqueue.rawValue)
            message.encode(into: &writer)
        case .acknowledge(let recipient, let id):
            writer.write(Tag.acknowledge.rawValue)
            Self.write(recipient, id, into: &writer)
        case .expire(let recipient, let id, let at):
            writer.write(Tag.expire.rawValue)
            Self.write(recipient, id, into: &writer)
            writer.write(at)
        case .claim(let recipient, let id):
            writer.write(Tag.claim.rawValue)
            Self.write(recipient, id, into: &writer)
        case .purge(let recipient):
            writer.write(Tag.purge.rawValue)
            writer.write(recipient)
        case .delete(let recipient, let id):
            writer.write(Tag.delete.rawValue)
            Self.write(recipient, id, into: &writer)
        case .forgetServer(let server):
            writer.write(Tag.forgetServer.rawValue)
            writer.write(server)
        case .registerServer(let server, let address):
            writer.write(Tag.registerServer.rawValue)
            writer.write(server)
            writer.write(address)
        case .retireServer(let server):
            writer.write(Tag.retireServer.rawValue)
            writer.write(server)
        case .admitServer(let server, let address):
            writer.write(Tag.admitServer.rawValue)
            writer.write(server)
            writer.write(address)
        case .batch(let commands):
            writer.write(Tag.batch.rawValue)
            writer.write(array: commands) { $0.write(lengthPrefixed: $1.encoded()) }
        }
        return writer.bytes
    }

    /// Decodes a command; malformed bytes are a ``DecodingError``, never a trap.
    public init(decoding bytes: [UInt8]) throws(DecodingError) {
        try self.init(decoding: bytes, nested: false)
    }

    /// `nested`: inside a batch, where a batch is refused before it is read (decoding batches
    /// in batches would recurse once per level, enough to overflow the stack).
    private init(decoding bytes: [UInt8], nested: Bool) throws(DecodingError) {
        var reader = ByteReader(bytes)
        let version = try reader.readUInt8("command.version")
        guard version == 1 else { throw .malformed(field: "command.version", reason: "unsupported version \(version)") }
        let rawTag = try reader.readUInt8("command.tag")
        guard let tag = Tag(rawValue: rawTag) else { throw .malformed(field: "command.tag", reason: "unknown tag \(rawTag)") }
        if nested, tag == .batch { throw .malformed(field: "batch.command", reason: "a batch inside a batch") }
        switch tag {
        case .register:
            // Structural bounds only: the state machine answers a record over the caps with
            // ``MailboxOutcome/fieldOverLimit(field:limit:)`` (an outcome every replica agrees on).
            self = .register(try ClientRecord.decode(from: &reader, enforcingLimits: false))
        case .attach:
            self = .attach(
                client: try reader.readNodeID("attach.client"), server: try reader.readNodeID("attach.server"),
                observedAddress: try reader.readOptional("attach.observed") { r throws(DecodingError) in try r.readString("attach.observed") },
                atMillis: try reader.readUInt64("attach.at")
            )
        case .detach:
            self = .detach(
                client: try reader.readNodeID("detach.client"), server: try reader.readNodeID("detach.server"),
                atMillis: try reader.readUInt64("detach.at")
            )
        case .enqueue:
            self = .enqueue(try MailMessage.decode(from: &reader))
        case .acknowledge:
            let (recipient, id) = try Self.readMessageReference(&reader)
            self = .acknowledge(recipient: recipient, id: id)
        case .expire:
            let (recipient, id) = try Self.readMessageReference(&reader)
            self = .expire(recipient: recipient, id: id, atMillis: try reader.readUInt64("expire.at"))
        case .claim:
            let (recipient, id) = try Self.readMessageReference(&reader)
            self = .claim(recipient: recipient, id: id)
        case .purge:
            self = .purge(recipient: try reader.readNodeID("purge.recipient"))
        case .delete:
            let (recipient, id) = try Self.readMessageReference(&reader)
            self = .delete(recipient: recipient, id: id)
        case .forgetServer:
            self = .forgetServer(try reader.readNodeID("forget.server"))
        case .registerServer:
            self = .registerServer(id: try reader.readNodeID("server.id"), address: try reader.readString("server.address"))
        case .retireServer:
            self = .retireServer(try reader.readNodeID("retire.server"))
        case .admitServer:
            self = .admitServer(id: try reader.readNodeID("admit.id"), address: try reader.readString("admit.address"))
        case .batch:
            self = .batch(try reader.readArray("batch.count", limit: Self.maximumBatch) { r throws(DecodingError) in
                try MailboxCommand(decoding: try r.readLengthPrefixed("batch.command"), nested: true)
            })
        }
        try reader.expectEnd()
    }

    private static func write(_ recipient: NodeID, _ id: MessageID, into writer: inout ByteWriter) {
        writer.write(recipient)
        writer.write(id.sender)
        writer.write(id.sequence)
    }

    private static func readMessageReference(_ reader: inout ByteReader) throws(DecodingError) -> (NodeID, MessageID) {
        let recipient = try reader.readNodeID("reference.recipient")
        let sender = try reader.readNodeID("reference.sender")
        return (recipient, MessageID(sender: sender, sequence: try reader.readUInt64("reference.sequence")))
    }
}
