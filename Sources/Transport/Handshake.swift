import Crypto
import Foundation
import NIOCore
import P2PCore
import WireCodec

/// The link handshake. Both sides send a hello (version, id, incarnation, identity key, ephemeral
/// X25519 key, nonce); the transcript of both hellos (dialer first) is then authenticated by each
/// side with an HMAC keyed by the cluster secret (proving the secret) and an Ed25519 signature
/// (proving the id's key). Session keys come from X25519 + HKDF salted with the secret and the
/// transcript, one key per direction.
struct Handshake {
    static let helloType: UInt8 = 1
    static let authType: UInt8 = 2

    enum Role: UInt8 { case dialer = 1, listener = 2 }

    struct Hello {
        let id: NodeID
        let incarnation: UInt64
        let identityKey: [UInt8]
        let ephemeralKey: [UInt8]
        let nonce: [UInt8]

        func encoded() -> [UInt8] {
            var writer = ByteWriter()
            writer.write(id)
            writer.write(incarnation)
            writer.write(lengthPrefixed: identityKey)
            writer.write(lengthPrefixed: ephemeralKey)
            writer.write(lengthPrefixed: nonce)
            return writer.bytes
        }

        static func decode(_ bytes: [UInt8]) throws -> Hello {
            var reader = ByteReader(bytes, maximumFieldLength: 64)
            let hello = Hello(
                id: try reader.readNodeID("hello.id"), incarnation: try reader.readUInt64("hello.incarnation"),
                identityKey: try reader.readLengthPrefixed("hello.identityKey"),
                ephemeralKey: try reader.readLengthPrefixed("hello.ephemeralKey"), nonce: try reader.readLengthPrefixed("hello.nonce")
            )
            try reader.expectEnd()
            guard hello.identityKey.count == 32, hello.ephemeralKey.count == 32, hello.nonce.count == 32 else {
                throw TransportError.protocolViolation("hello with malformed keys")
            }
            return hello
        }
    }

    /// Keys and peer facts established by a successful handshake.
    struct Session {
        let peer: Hello
        let sendKey: SymmetricKey
        let receiveKey: SymmetricKey
    }

    let role: Role
    let configuration: LinkConfiguration
    private let ephemeral = Curve25519.KeyAgreement.PrivateKey()
    let hello: Hello

    init(role: Role, configuration: LinkConfiguration) {
        self.role = role
        self.configuration = configuration
        var nonce = [UInt8](repeating: 0, count: 32)
        var generator = SystemRandomNumberGenerator()
        for index in nonce.indices { nonce[index] = UInt8.random(in: 0...255, using: &generator) }
        hello = Hello(
            id: configuration.identity.id, incarnation: configuration.incarnation,
            identityKey: configuration.identity.publicKeyBytes,
            ephemeralKey: Array(ephemeral.publicKey.rawRepresentation), nonce: nonce
        )
    }

    private var secretKey: SymmetricKey {
        HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: Array(configuration.secret.utf8)),
            salt: Array("p2pcore-cluster-secret-v1".utf8), info: [], outputByteCount: 32
        )
    }

    private func transcript(peer: Hello) -> [UInt8] {
        role == .dialer ? hello.encoded() + peer.encoded() : peer.encoded() + hello.encoded()
    }

    /// This side's proof: HMAC(secret, role ‖ transcript) ‖ Ed25519 signature(role ‖ transcript).
    func authentication(peer: Hello) throws -> [UInt8] {
        let message = [role.rawValue] + transcript(peer: peer)
        let mac = HMAC<SHA256>.authenticationCode(for: message, using: secretKey)
        return Array(mac) + (try configuration.identity.sign(message))
    }

    /// Checks the peer's proof and derives the session keys.
    func verify(peer: Hello, authentication: [UInt8]) throws -> Session {
        let peerRole: Role = role == .dialer ? .listener : .dialer
        let message = [peerRole.rawValue] + transcript(peer: peer)
        guard authentication.count == 32 + 64 else { throw TransportError.protocolViolation("authentication of \(authentication.count) bytes") }
        guard HMAC<SHA256>.isValidAuthenticationCode(Array(authentication.prefix(32)), authenticating: message, using: secretKey) else {
            throw TransportError.authenticationFailed("the peer does not know the cluster secret")
        }
        guard NodeIdentity.isValidSignature(Array(authentication.suffix(64)), for: message, publicKeyBytes: peer.identityKey) else {
            throw TransportError.authenticationFailed("the peer could not prove the key of \(peer.id)")
        }
        let peerEphemeral = try Curve25519.KeyAgreement.PublicKey(rawRepresentation: peer.ephemeralKey)
        let shared = try ephemeral.sharedSecretFromKeyAgreement(with: peerEphemeral)
        var salt = Array(secretKey.withUnsafeBytes { Array($0) })
        salt += Array(SHA256.hash(data: transcript(peer: peer)))
        let keys = shared.hkdfDerivedSymmetricKey(using: SHA256.self, salt: salt, sharedInfo: Array("p2pcore-session-v1".utf8), outputByteCount: 64)
        let bytes = keys.withUnsafeBytes { Array($0) }
        let dialerToListener = SymmetricKey(data: bytes.prefix(32))
        let listenerToDialer = SymmetricKey(data: bytes.suffix(32))
        return role == .dialer
            ? Session(peer: peer, sendKey: dialerToListener, receiveKey: listenerToDialer)
            : Session(peer: peer, sendKey: listenerToDialer, receiveKey: dialerToListener)
    }
}
