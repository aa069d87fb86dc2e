import Crypto
import Foundation
import NIOCore
import P2PCore
import WireCodec

/// The dialer's half of the link handshake, driven by hand (Transport keeps its own internal),
/// so that an attacker can stop at any step, guess secrets, or hold a link without reading it.
///
/// Hello: id, incarnation, the link's role, identity key, ephemeral X25519 key, nonce.
/// Authentication: HMAC-SHA256(HKDF(secret, role salt), side ‖ transcript) ‖ Ed25519 signature,
/// the transcript being the dialer's hello then the listener's, as sent. Session keys: HKDF of
/// the X25519 secret, salted with the role key and the transcript's hash; frames sealed with
/// ChaChaPoly under a counter nonce.
struct RawHandshake {
    static let helloType: UInt8 = 1
    static let authType: UInt8 = 2
    static let sealedType: UInt8 = 3
    /// The dialer's side byte in the authenticated message.
    static let dialerSide: UInt8 = 1

    let identity = NodeIdentity.generate()
    let role: UInt8
    let hello: [UInt8]
    private let ephemeral = Curve25519.KeyAgreement.PrivateKey()

    /// A dialer hello declaring `role` (1 client, 2 server, 3 admin).
    init(role: UInt8) {
        self.role = role
        var writer = ByteWriter()
        writer.write(identity.id)
        writer.write(UInt64.random(in: 1...UInt64.max))
        writer.write(role)
        writer.write(lengthPrefixed: identity.publicKeyBytes)
        writer.write(lengthPrefixed: Array(ephemeral.publicKey.rawRepresentation))
        writer.write(lengthPrefixed: (0..<32).map { _ in UInt8.random(in: 0...255) })
        hello = writer.bytes
    }

    private func roleKey(_ secret: String) -> SymmetricKey {
        let salt = switch role {
        case 2: "p2pcore-server-secret-v1"
        case 3: "p2pcore-admin-secret-v1"
        default: "p2pcore-cluster-secret-v1"
        }
        return HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: Array(secret.utf8)), salt: Array(salt.utf8), info: [], outputByteCount: 32
        )
    }

    /// The dialer's authentication of the transcript, as if `secret` were the role's secret.
    func authentication(listenerHello: [UInt8], secret: String) throws -> [UInt8] {
        let message = [Self.dialerSide] + hello + listenerHello
        let mac = HMAC<SHA256>.authenticationCode(for: message, using: roleKey(secret))
        return Array(mac) + (try identity.sign(message))
    }

    struct MalformedHello: Error {}

    /// The dialer's sending half of the session keyed by `secret` (the listener's proof is not
    /// checked: an attacker has no need to).
    func session(listenerHello: [UInt8], secret: String) throws -> RawSession {
        // id (16), incarnation (8), role (1), identity key (4 + 32), then the ephemeral key (4 + 32).
        let offset = 16 + 8 + 1 + 4 + 32 + 4
        guard listenerHello.count >= offset + 32 else { throw MalformedHello() }
        let peerEphemeral = try Curve25519.KeyAgreement.PublicKey(rawRepresentation: listenerHello[offset..<(offset + 32)])
        let shared = try ephemeral.sharedSecretFromKeyAgreement(with: peerEphemeral)
        var salt = roleKey(secret).withUnsafeBytes { Array($0) }
        salt += Array(SHA256.hash(data: hello + listenerHello))
        let keys = shared.hkdfDerivedSymmetricKey(using: SHA256.self, salt: salt, sharedInfo: Array("p2pcore-session-v2".utf8), outputByteCount: 64)
        return RawSession(key: keys.withUnsafeBytes { Array($0.prefix(32)) })
    }

    /// Sends the hello, reads the listener's, sends the authentication with `secret` and waits
    /// for the listener's (type 2): the link is then established as far as the listener knows.
    /// Returns the session to send sealed frames with, or `nil` if the listener did not authenticate.
    func establish(
        _ frames: inout NIOAsyncChannelInboundStream<Frame>.AsyncIterator, _ outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>, secret: String
    ) async throws -> RawSession? {
        try await outbound.write(try RawConnection.wire(Frame(type: Self.helloType, bytes: hello)))
        guard let listenerHello = try await frames.next(), listenerHello.type == Self.helloType else { return nil }
        let bytes = listenerHello.bytes
        try await outbound.write(try RawConnection.wire(Frame(type: Self.authType, bytes: try authentication(listenerHello: bytes, secret: secret))))
        guard let proof = try await frames.next(), proof.type == Self.authType else { return nil }
        return try session(listenerHello: bytes, secret: secret)
    }
}

/// The sending half of a hand-made link: application frames sealed as the link seals them.
struct RawSession {
    let key: [UInt8]
    private var counter: UInt64 = 0

    init(key: [UInt8]) {
        self.key = key
    }

    /// The wire bytes of a sealed application frame.
    mutating func seal(type: UInt8, _ payload: [UInt8]) throws -> ByteBuffer {
        var nonce = [UInt8](repeating: 0, count: 4)
        withUnsafeBytes(of: counter.bigEndian) { nonce.append(contentsOf: $0) }
        counter += 1
        let box = try ChaChaPoly.seal([type] + payload, using: SymmetricKey(data: key), nonce: try ChaChaPoly.Nonce(data: nonce))
        return try RawConnection.wire(Frame(type: RawHandshake.sealedType, bytes: Array(box.ciphertext) + Array(box.tag)))
    }
}
