import Crypto
import Foundation

/// A node's id together with the Curve25519 (Ed25519) key pair that proves it.
///
/// The private key never leaves the node's state directory (see ``IdentityStore``); peers learn the
/// public key and bind it to the id, so that nobody else can claim the id later.
///
/// The key is held as its 32-byte raw form so that the identity is a plain `Sendable` value.
public struct NodeIdentity: Sendable, Equatable {
    /// The node's permanent id.
    public let id: NodeID
    /// The raw 32-byte Ed25519 private key.
    public let privateKeyBytes: [UInt8]
    /// The raw 32-byte Ed25519 public key, as peers see it.
    public let publicKeyBytes: [UInt8]

    /// Pairs an id with a raw private key; throws if the key is not a valid Ed25519 key.
    public init(id: NodeID, privateKeyBytes: [UInt8]) throws(IdentityError) {
        let key: Curve25519.Signing.PrivateKey
        do {
            key = try Curve25519.Signing.PrivateKey(rawRepresentation: privateKeyBytes)
        } catch {
            throw IdentityError.invalidKey("the private key is not a valid 32-byte Ed25519 key")
        }
        self.init(id: id, signingKey: key)
    }

    /// Pairs an id with a key.
    public init(id: NodeID, signingKey: Curve25519.Signing.PrivateKey) {
        self.id = id
        self.privateKeyBytes = Array(signingKey.rawRepresentation)
        self.publicKeyBytes = Array(signingKey.publicKey.rawRepresentation)
    }

    /// A brand-new identity whose id is derived from a fresh key.
    public static func generate() -> NodeIdentity {
        let key = Curve25519.Signing.PrivateKey()
        return NodeIdentity(id: NodeID(publicKey: key.publicKey.rawRepresentation), signingKey: key)
    }

    /// A brand-new identity held only in memory (tests, ephemeral tools).
    public static func ephemeral() -> NodeIdentity { generate() }

    /// Whether the id is derived from the key (every identity created since ids became
    /// self-certifying; older state directories hold random ids).
    public var isSelfCertifying: Bool { id.isDerived(from: publicKeyBytes) }

    /// The signing key, rebuilt from its raw form (validated at initialisation).
    public func signingKey() throws -> Curve25519.Signing.PrivateKey {
        try Curve25519.Signing.PrivateKey(rawRepresentation: privateKeyBytes)
    }

    /// Signs `data` with this identity's private key.
    public func sign(_ data: some DataProtocol) throws -> [UInt8] {
        Array(try signingKey().signature(for: data))
    }

    /// Whether `signature` over `data` was made by the holder of `publicKeyBytes`.
    public static func isValidSignature(
        _ signature: some DataProtocol,
        for data: some DataProtocol,
        publicKeyBytes: [UInt8]
    ) -> Bool {
        guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: publicKeyBytes) else {
            return false
        }
        return key.isValidSignature(signature, for: data)
    }
}
