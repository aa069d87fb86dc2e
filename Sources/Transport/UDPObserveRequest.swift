import P2PCore

/// A client asks a server's ``UDPEndpoint`` which source address it sees.
///
/// On the wire: kind ‖ client id (16) ‖ nonce (16) ‖ timestamp (8) ‖ public key (32) ‖ MAC (32) ‖
/// signature (64). The timestamp is the client's wall clock in milliseconds since 1970 (big
/// endian, signed). The MAC (cluster secret) covers kind ‖ client id ‖ nonce ‖ timestamp ‖ public
/// key; the Ed25519 signature by the client's identity covers a domain tag and the same bytes, so
/// the server can check the key against its registry, and a captured request cannot be moved in
/// time: the server answers it only within ``ObserveReplayGuard/window`` of its timestamp, and
/// once (``ObserveReplayGuard``).
///
/// Requests from before the timestamp (``legacySize`` bytes, signed under another domain tag)
/// are recognised only to be refused: they could be replayed at any time.
package struct UDPObserveRequest: Sendable, Equatable {
    package static let nonceSize = 16
    static let timestampSize = 8
    static let publicKeySize = 32
    static let signatureSize = 64
    private static let signedPartSize = 1 + 16 + nonceSize + timestampSize + publicKeySize
    static let size = signedPartSize + UDPDatagramAuthenticator.macSize + signatureSize
    /// The size of a request from a client before timestamps (no timestamp, otherwise the same).
    static let legacySize = size - timestampSize
    private static let signatureDomain = Array("p2pcore-udp-observe-v2".utf8)

    package let client: NodeID
    package let nonce: [UInt8]
    /// The client's wall clock when it asked, in milliseconds since 1970.
    package let timestamp: Int64
    package let publicKey: [UInt8]

    /// kind ‖ client id ‖ nonce ‖ timestamp ‖ public key.
    private var signedPart: [UInt8] {
        var part = [UDPDatagramKind.observeRequest.rawValue] + client.bytes + nonce
        part.append(contentsOf: Self.bigEndianBytes(timestamp))
        return part + publicKey
    }

    /// A request from `identity`, made at `timestamp` (milliseconds since 1970).
    package init(identity: NodeIdentity, nonce: [UInt8], timestamp: Int64) {
        self.init(client: identity.id, nonce: nonce, timestamp: timestamp, publicKey: identity.publicKeyBytes)
    }

    private init(client: NodeID, nonce: [UInt8], timestamp: Int64, publicKey: [UInt8]) {
        self.client = client
        self.nonce = nonce
        self.timestamp = timestamp
        self.publicKey = publicKey
    }

    /// The datagram, authenticated with the secret and signed by `identity`.
    package func encoded(signedBy identity: NodeIdentity, authenticator: UDPDatagramAuthenticator) throws -> [UInt8] {
        let message = signedPart
        return message + authenticator.mac(message) + (try identity.sign(Self.signatureDomain + message))
    }

    /// The request in `datagram` if it is well formed, proves the cluster secret and is signed by
    /// the key it carries; nil otherwise. Its timestamp is not judged here.
    package static func decode(_ datagram: [UInt8], authenticator: UDPDatagramAuthenticator) -> UDPObserveRequest? {
        guard let request = decodeUnsigned(datagram, authenticator: authenticator), isSigned(datagram) else { return nil }
        return request
    }

    /// The request in `datagram` if it is well formed and proves the cluster secret, its
    /// signature NOT checked (``isSigned(_:)`` does that, the costly part).
    package static func decodeUnsigned(_ datagram: [UInt8], authenticator: UDPDatagramAuthenticator) -> UDPObserveRequest? {
        guard datagram.count == size, datagram.first == UDPDatagramKind.observeRequest.rawValue else { return nil }
        let message = datagram[0..<signedPartSize]
        let mac = datagram[signedPartSize..<signedPartSize + UDPDatagramAuthenticator.macSize]
        guard authenticator.isValid(mac: mac, for: message), let client = NodeID(bytes: datagram[1..<17]) else { return nil }
        let timestampStart = 17 + nonceSize
        let timestamp = datagram[timestampStart..<(timestampStart + timestampSize)].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let publicKey = Array(datagram[(timestampStart + timestampSize)..<signedPartSize])
        return UDPObserveRequest(
            client: client, nonce: Array(datagram[17..<timestampStart]), timestamp: Int64(bitPattern: timestamp), publicKey: publicKey
        )
    }

    /// Whether the well-formed request in `datagram` is signed by the key it carries.
    package static func isSigned(_ datagram: [UInt8]) -> Bool {
        guard datagram.count == size else { return false }
        let message = datagram[0..<signedPartSize]
        let signature = datagram[(signedPartSize + UDPDatagramAuthenticator.macSize)...]
        let publicKey = Array(datagram[(signedPartSize - publicKeySize)..<signedPartSize])
        return NodeIdentity.isValidSignature(Array(signature), for: signatureDomain + message, publicKeyBytes: publicKey)
    }

    /// The id of the client that sent `datagram`, a request from before timestamps, if the
    /// datagram has that shape and proves the cluster secret (its signature is not checked: it is
    /// refused either way; the id is only for the operator's log).
    package static func legacyClient(_ datagram: [UInt8], authenticator: UDPDatagramAuthenticator) -> NodeID? {
        let signedPartSize = legacySize - UDPDatagramAuthenticator.macSize - signatureSize
        guard datagram.count == legacySize, datagram.first == UDPDatagramKind.observeRequest.rawValue,
              authenticator.isValid(mac: datagram[signedPartSize..<signedPartSize + UDPDatagramAuthenticator.macSize], for: datagram[0..<signedPartSize])
        else { return nil }
        return NodeID(bytes: datagram[1..<17])
    }

    private static func bigEndianBytes(_ value: Int64) -> [UInt8] {
        let bits = UInt64(bitPattern: value)
        return (0..<8).reversed().map { UInt8(truncatingIfNeeded: bits >> (UInt64($0) * 8)) }
    }
}
