import P2PCore

/// What the cluster knows about one client, replicated through Raft.
public struct ClientRecord: Equatable, Sendable {
    public let id: NodeID
    /// The client's Ed25519 public key: the id is bound to it at first registration.
    public var publicKey: [UInt8]
    /// Addresses the client reported on its own interfaces (`host:port`).
    public var lanAddresses: [String]
    /// Addresses servers observed the client's traffic coming from (its NAT mappings).
    public var wanAddresses: [String]
    /// The address and port the client listens on for direct links.
    public var listenAddress: String
    public var listenPort: UInt16
    /// Servers the client is attached to right now.
    public var attachedServers: [NodeID]
    /// Last attach or detach, milliseconds since 1970.
    public var lastSeenMillis: UInt64
    /// Messages and bytes this client sent through the relay (mailboxes).
    public var relayedMessages: UInt64
    public var relayedBytes: UInt64

    public init(
        id: NodeID, publicKey: [UInt8], lanAddresses: [String] = [], wanAddresses: [String] = [],
        listenAddress: String = "", listenPort: UInt16 = 0, attachedServers: [NodeID] = [],
        lastSeenMillis: UInt64 = 0, relayedMessages: UInt64 = 0, relayedBytes: UInt64 = 0
    ) {
        self.id = id
        self.publicKey = publicKey
        self.lanAddresses = lanAddresses
        self.wanAddresses = wanAddresses
        self.listenAddress = listenAddress
        self.listenPort = listenPort
        self.attachedServers = attachedServers
        self.lastSeenMillis = lastSeenMillis
        self.relayedMessages = relayedMessages
        self.relayedBytes = relayedBytes
    }

    /// Whether any server has the client attached.
    public var isOnline: Bool { !attachedServers.isEmpty }

    public func encode(into writer: inout ByteWriter) {
        writer.write(id)
        writer.write(lengthPrefixed: publicKey)
        writer.write(array: lanAddresses) { $0.write($1) }
        writer.write(array: wanAddresses) { $0.write($1) }
        writer.write(listenAddress)
        writer.write(listenPort)
        writer.write(array: attachedServers) { $0.write($1) }
        writer.write(lastSeenMillis)
        writer.write(relayedMessages)
        writer.write(relayedBytes)
    }

    /// Decodes a record. With `enforcingLimits` (the default, for anything a client could have
    /// shaped) every field and count over ``Limits`` is refused; without it only the structural
    /// bounds apply, for records already in the replicated state or the log (a record stored
    /// before the caps existed must stay readable, or the state machine could not apply).
    public static func decode(from reader: inout ByteReader, enforcingLimits: Bool = true) throws(DecodingError) -> ClientRecord {
        let id = try reader.readNodeID("client.id")
        let publicKey = try reader.readLengthPrefixed("client.publicKey")
        if enforcingLimits, publicKey.count > Limits.maximumPublicKeyLength {
            throw .tooLarge(field: "client.publicKey", length: publicKey.count, limit: Limits.maximumPublicKeyLength)
        }
        let lan: [String]
        let wan: [String]
        let listen: String
        if enforcingLimits {
            lan = try reader.readAddresses("client.lan", limit: Limits.maximumLANAddresses)
            wan = try reader.readArray("client.wan", limit: Limits.maximumWANAddresses) { r throws(DecodingError) in
                try r.readString("client.wan", maximumLength: Limits.maximumAddressLength)
            }
            listen = try reader.readString("client.listenAddress", maximumLength: Limits.maximumListenAddressLength)
        } else {
            lan = try reader.readArray("client.lan", limit: 64) { r throws(DecodingError) in try r.readString("client.lan") }
            wan = try reader.readArray("client.wan", limit: 64) { r throws(DecodingError) in try r.readString("client.wan") }
            listen = try reader.readString("client.listenAddress")
        }
        return ClientRecord(
            id: id,
            publicKey: publicKey,
            lanAddresses: lan,
            wanAddresses: wan,
            listenAddress: listen,
            listenPort: try reader.readUInt16("client.listenPort"),
            attachedServers: try reader.readArray("client.servers", limit: Limits.maximumAttachedServers) { r throws(DecodingError) in
                try r.readNodeID("client.server")
            },
            lastSeenMillis: try reader.readUInt64("client.lastSeen"),
            relayedMessages: try reader.readUInt64("client.relayedMessages"),
            relayedBytes: try reader.readUInt64("client.relayedBytes")
        )
    }
}
