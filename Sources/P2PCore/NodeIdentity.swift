import Crypto

/// A node's id together with the Curve25519 key pair that proves it.
///
/// The private key never leaves the node's state directory (see ``IdentityStore``); peers learn the
/// public key and bind it to the id, so that nobody else can claim the id later.
public struct NodeIdentity: Sendable {
    /// The node's permanent id.
    public let id: NodeID
    /// The Ed25519 signing key that proves ownership of ``id``.
    public let signingKey: Curve25519.Signing.PrivateKey

    /// The public half of ``signingKey``, as peers see it.
    public var publicKey: Curve25519.Signing.PublicKey { signingKey.publicKey }

    /// Pairs an id with its key.
    public init(id: NodeID, signingKey: Curve25519.Signing.PrivateKey) {
        self.id = id
        self.signingKey = signingKey
    }

    /// A brand-new identity held only in memory (tests, ephemeral tools).
    public static func ephemeral() -> NodeIdentity {
        NodeIdentity(id: .random(), signingKey: Curve25519.Signing.PrivateKey())
    }
}
