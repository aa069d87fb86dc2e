import P2PCore

extension ClientRecord {
    /// Caps on every field and count a client controls, in one place. Decoders of what clients
    /// send refuse anything over them (``DecodingError/tooLarge(field:length:limit:)``), and the
    /// mailbox state machine refuses a registration over them, so that a record is always small
    /// enough to replicate (well under any frame limit).
    public enum Limits {
        /// LAN addresses a client may report (`ClientHello.lanAddresses`, `ClientRecord.lanAddresses`).
        public static let maximumLANAddresses = 16
        /// Public mappings servers observed, kept per client (the newest first).
        public static let maximumWANAddresses = 8
        /// Bytes (UTF-8) of one `host:port` address: LAN, WAN or a direct-path candidate.
        public static let maximumAddressLength = 64
        /// Bytes (UTF-8) of the host a client listens on for direct links.
        public static let maximumListenAddressLength = 64
        /// Bytes of a client's public key (Ed25519 keys are 32).
        public static let maximumPublicKeyLength = 64
        /// Servers a client is recorded as attached to at once.
        public static let maximumAttachedServers = 1024
        /// TCP and UDP candidates, each list, in one `ClientRequest.connect`.
        public static let maximumCandidates = 16
        /// Peers in one `ClientRequest.directPeers` report.
        public static let maximumDirectPeers = 4096
    }

    /// The first cap this record exceeds, as the field's name and its limit; `nil` when it is
    /// within ``Limits`` (the mailbox state machine stores only such records).
    public var limitViolation: (field: String, limit: Int)? {
        if publicKey.count > Limits.maximumPublicKeyLength { return ("client.publicKey", Limits.maximumPublicKeyLength) }
        if lanAddresses.count > Limits.maximumLANAddresses { return ("client.lan", Limits.maximumLANAddresses) }
        if lanAddresses.contains(where: { !Self.isAddress($0) }) { return ("client.lan", Limits.maximumAddressLength) }
        if wanAddresses.count > Limits.maximumWANAddresses { return ("client.wan", Limits.maximumWANAddresses) }
        if wanAddresses.contains(where: { $0.utf8.count > Limits.maximumAddressLength }) { return ("client.wan", Limits.maximumAddressLength) }
        if listenAddress.utf8.count > Limits.maximumListenAddressLength {
            return ("client.listenAddress", Limits.maximumListenAddressLength)
        }
        if attachedServers.count > Limits.maximumAttachedServers { return ("client.servers", Limits.maximumAttachedServers) }
        return nil
    }

    /// Whether `text` is a `host:port` of at most ``Limits/maximumAddressLength`` bytes.
    public static func isAddress(_ text: String) -> Bool {
        text.utf8.count <= Limits.maximumAddressLength && HostPort(text) != nil
    }
}

extension ByteReader {
    /// A string of at most `maximumLength` UTF-8 bytes; a longer one is refused before it is copied.
    public mutating func readString(_ field: String, maximumLength: Int) throws(DecodingError) -> String {
        var peek = self
        let length = Int(try peek.readUInt32(field))
        guard length <= maximumLength else { throw .tooLarge(field: field, length: length, limit: maximumLength) }
        return try readString(field)
    }

    /// A `host:port` address of at most ``ClientRecord/Limits/maximumAddressLength`` bytes.
    public mutating func readAddress(_ field: String) throws(DecodingError) -> String {
        let text = try readString(field, maximumLength: ClientRecord.Limits.maximumAddressLength)
        guard HostPort(text) != nil else { throw .malformed(field: field, reason: "not a host:port address") }
        return text
    }

    /// An array of at most `limit` `host:port` addresses (see ``readAddress(_:)``).
    public mutating func readAddresses(_ field: String, limit: Int) throws(DecodingError) -> [String] {
        try readArray(field, limit: limit) { r throws(DecodingError) in try r.readAddress(field) }
    }
}
