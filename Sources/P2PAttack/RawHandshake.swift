import Crypto
import Foundation
import P2PCore
import WireCodec

/// The dialer's half of the link handshake, driven by hand (Transport keeps its own internal):
/// the hello, and an authentication computed with whatever secret the attacker guesses.
///
/// Hello: id, incarnation, the link's role, identity key, ephemeral X25519 key, nonce.
/// Authentication: HMAC-SHA256(HKDF(secret, role salt), side ‖ transcript) ‖ Ed25519 signature,
/// the transcript being the dialer's hello then the listener's, as sent.
struct RawHandshake {
    static let helloType: UInt8 = 1
    static let authType: UInt8 = 2
    /// The dialer's side byte in the authenticated message.
    static let dialerSide: UInt8 = 1

    let identity = NodeIdentity.ephemeral()
    let role: UInt8
    let hello: [UInt8]

    /// A dialer hello declaring `role` (1 client, 2 server, 3 admin).
    init(role: UInt8) {
        self.role = role
        var writer = ByteWriter()
        writer.write(identity.id)
        writer.write(UInt64.random(in: 1...UInt64.max))
        writer.write(role)
        writer.write(lengthPrefixed: identity.publicKeyBytes)
        writer.write(lengthPrefixed: Array(Curve25519.KeyAgreement.PrivateKey().publicKey.rawRepresentation))
        writer.write(lengthPrefixed: (0..<32).map { _ in UInt8.random(in: 0...255) })
        hello = writer.bytes
    }

    private var salt: String {
        switch role {
        case 2: "p2pcore-server-secret-v1"
        case 3: "p2pcore-admin-secret-v1"
        default: "p2pcore-cluster-secret-v1"
        }
    }

    /// The dialer's authentication of the transcript, as if `secret` were the role's secret.
    func authentication(listenerHello: [UInt8], secret: String) throws -> [UInt8] {
        let key = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: Array(secret.utf8)), salt: Array(salt.utf8), info: [], outputByteCount: 32
        )
        let message = [Self.dialerSide] + hello + listenerHello
        let mac = HMAC<SHA256>.authenticationCode(for: message, using: key)
        return Array(mac) + (try identity.sign(message))
    }
}
