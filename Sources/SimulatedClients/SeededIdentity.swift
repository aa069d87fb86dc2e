import Crypto
import P2PCore

/// Identities derived from a run's seed and a client's number, so that separate processes of one
/// run agree on every client's id without exchanging them (bench only: the keys are guessable
/// by anyone who knows the seed).
public enum SeededIdentity {
    /// Client number `index`'s identity in the run with `seed` (its id derived from its key).
    public static func identity(seed: UInt64, index: Int) -> NodeIdentity {
        var material = Array("p2pcore-bench-client-v1".utf8)
        withUnsafeBytes(of: seed.bigEndian) { material += $0 }
        withUnsafeBytes(of: UInt64(index).bigEndian) { material += $0 }
        let digest = Array(SHA256.hash(data: material))
        // 32 bytes are always a valid Ed25519 seed.
        let key = (try? Curve25519.Signing.PrivateKey(rawRepresentation: digest)) ?? Curve25519.Signing.PrivateKey()
        return NodeIdentity(id: NodeID(publicKey: key.publicKey.rawRepresentation), signingKey: key)
    }
}
