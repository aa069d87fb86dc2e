import P2PCore

/// A client asks a server's ``UDPEndpoint`` which source address it sees.
///
/// On the wire: kind ‖ client id (16) ‖ nonce (16) ‖ public key (32) ‖ MAC (32) ‖ signature (64).
/// The MAC (cluster secret) covers kind ‖ client id ‖ nonce ‖ public key; the Ed25519 signature by
/// the client's identity covers a domain tag and the same bytes, so the server can check the key
/// against its registry.
package struct UDPObserveRequest: Sendable, Equatable {
    package static let nonceSize = 16
    static let publicKeySize = 32
    static let signatureSize = 64
    private static let signedPartSize = 1 + 16 + nonceSize + publicKeySize
    static let size = signedPartSize + UDPDatagramAuthenticator.macSize + signatureSize
    private static let signatureDomain = Array("p2pcore-udp-observe-v1".utf8)

    package let client: NodeID
    package let nonce: [UInt8]
    package let publicKey: [UInt8]

    /// kind ‖ client id ‖ nonce ‖ public key.
    private var signedPart: [UInt8] {
        [UDPDatagramKind.observeRequest.rawValue] + client.bytes + nonce + publicKey
    }

    /// A request from `identity`.
    package init(identity: NodeIdentity, nonce: [UInt8]) {
        self.init(client: identity.id, nonce: nonce, publicKey: identity.publicKeyBytes)
    }

    private init(client: NodeID, nonce: [UInt8], publicKey: [UInt8]) {
        self.client = client
        self.nonce = nonce
        self.publicKey = publicKey
    }

    /// The datagram, authenticated with the secret and signed by `identity`.
    package func encoded(signedBy identity: NodeIdentity, authenticator: UDPDatagramAuthenticator) throws -> [UInt8] {
        let message = signedPart
        return message + authenticator.mac(message) + (try identity.sign(Self.signatureDomain + message))
    }

    /// The request in `datagram` if it is well formed, proves the cluster secret and is signed by
    /// the key it carries; nil otherwise.
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
        let publicKey = Array(datagram[(1 + 16 + nonceSize)..<signedPartSize])
        return UDPObserveRequest(client: client, nonce: Array(datagram[17..<(17 + nonceSize)]), publicKey: publicKey)
    }

    /// Whether the well-formed request in `datagram` is signed by the key it carries.
    package static func isSigned(_ datagram: [UInt8]) -> Bool {
        guard datagram.count == size else { return false }
        let message = datagram[0..<signedPartSize]
        let signature = datagram[(signedPartSize + UDPDatagramAuthenticator.macSize)...]
        let publicKey = Array(datagram[(1 + 16 + nonceSize)..<signedPartSize])
        return NodeIdentity.isValidSignature(Array(signature), for: signatureDomain + message, publicKeyBytes: publicKey)
    }
}
