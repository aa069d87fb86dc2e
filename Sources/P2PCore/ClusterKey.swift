import Crypto
import Foundation

/// The cluster's signing key, derived from the server secret: every server holds it (and only
/// servers do), so a signature by it proves "a server of this cluster" to a client, which knows
/// only the public half — the cluster's fingerprint (``fingerprint``), printed by
/// `p2pcore-server cluster-key` and in every server's start-up log.
///
/// A server signs the channel binding of each client link with it when it welcomes the client
/// (``proof(channelBinding:server:)``), so a client posing as a server — it knows the cluster
/// secret, not the server secret — cannot pass, not even by relaying a real server's proof.
public struct ClusterKey: Sendable {
    private let privateKeyBytes: [UInt8]
    /// The 32-byte public key clients pin.
    public let publicKeyBytes: [UInt8]

    /// Derives the key from the server secret.
    public init(serverSecret: String) {
        let seed = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: Array(serverSecret.utf8)),
            salt: Array("p2pcore-cluster-key-v1".utf8), info: [], outputByteCount: 32
        )
        let bytes = seed.withUnsafeBytes { Array($0) }
        // 32 bytes from HKDF are always a valid Ed25519 seed.
        let key = (try? Curve25519.Signing.PrivateKey(rawRepresentation: bytes)) ?? Curve25519.Signing.PrivateKey()
        privateKeyBytes = Array(key.rawRepresentation)
        publicKeyBytes = Array(key.publicKey.rawRepresentation)
    }

    /// The public key as clients configure it: base64url, 43 characters.
    public var fingerprint: String { Self.fingerprint(of: publicKeyBytes) }

    /// A server's proof, for one link, that it holds the cluster key.
    public func proof(channelBinding: [UInt8], server: NodeID) -> [UInt8] {
        guard let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: privateKeyBytes),
              let signature = try? key.signature(for: Self.message(channelBinding, server))
        else { return [] }
        return Array(signature)
    }

    /// Whether `proof` is a proof by the holder of the cluster key `publicKey` for this link and server.
    public static func isValid(proof: [UInt8], publicKey: [UInt8], channelBinding: [UInt8], server: NodeID) -> Bool {
        NodeIdentity.isValidSignature(proof, for: message(channelBinding, server), publicKeyBytes: publicKey)
    }

    private static func message(_ binding: [UInt8], _ server: NodeID) -> [UInt8] {
        Array("p2pcore-server-proof-v1".utf8) + binding + server.bytes
    }

    /// The text form of a cluster public key.
    public static func fingerprint(of publicKey: [UInt8]) -> String {
        Secret.base64URL(publicKey)
    }

    /// Parses a fingerprint; `nil` unless it is 32 bytes in base64url.
    public static func publicKey(fingerprint: String) -> [UInt8]? {
        var text = fingerprint.trimmingCharacters(in: .whitespacesAndNewlines)
            .replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while text.count % 4 != 0 { text += "=" }
        guard let data = Data(base64Encoded: text), data.count == 32 else { return nil }
        return Array(data)
    }
}
