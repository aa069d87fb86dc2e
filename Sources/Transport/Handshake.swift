import Crypto
import Foundation
import NIOCore
import P2PCore
import WireCodec

/// The link handshake.
///
/// 1. The dialer sends its hello (version, id, incarnation, the link's role, identity key,
///    ephemeral X25519 key, nonce).
/// 2. The listener checks the declared role (accepted, and it holds that role's secret) and sends
///    its own hello, stating its role.
/// 3. The dialer sends its authentication of the transcript of both hellos (dialer first): an HMAC
///    keyed by the secret of the link's role (proving the secret) and an Ed25519 signature
///    (proving the id's key).
/// 4. The listener verifies it and only then sends its own authentication — so a peer that does
///    not know the secret never sees anything derived from it (no offline guessing).
/// 5. The dialer verifies the listener's.
///
/// Session keys come from X25519 + HKDF salted with the role's secret and the transcript, one key
/// per direction.
package struct Handshake {
    static let helloType: UInt8 = 1
    static let authType: UInt8 = 2

    /// Which end of the handshake this side plays.
    enum Side: UInt8 { case dialer = 1, listener = 2 }

    package struct Hello {
        package let id: NodeID
        package let incarnation: UInt64
        /// The dialer's: the link's role. The listener's: what the listener is.
        package let role: LinkRole
        package let identityKey: [UInt8]
        package let ephemeralKey: [UInt8]
        package let nonce: [UInt8]

        package init(id: NodeID, incarnation: UInt64, role: LinkRole, identityKey: [UInt8], ephemeralKey: [UInt8], nonce: [UInt8]) {
            self.id = id
            self.incarnation = incarnation
            self.role = role
            self.identityKey = identityKey
            self.ephemeralKey = ephemeralKey
            self.nonce = nonce
        }

        package func encoded() -> [UInt8] {
            var writer = ByteWriter()
            writer.write(id)
            writer.write(incarnation)
            writer.write(role.rawValue)
            writer.write(lengthPrefixed: identityKey)
            writer.write(lengthPrefixed: ephemeralKey)
            writer.write(lengthPrefixed: nonce)
            return writer.bytes
        }

        package static func decode(_ bytes: [UInt8]) throws -> Hello {
            var reader = ByteReader(bytes, maximumFieldLength: 64)
            let id = try reader.readNodeID("hello.id")
            let incarnation = try reader.readUInt64("hello.incarnation")
            let roleByte = try reader.readUInt8("hello.role")
            guard let role = LinkRole(rawValue: roleByte) else {
                throw TransportError.protocolViolation("hello with unknown role \(roleByte)")
            }
            let hello = Hello(
                id: id, incarnation: incarnation, role: role,
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
        /// The same on both ends of this link and on no other link (see ``PeerInfo/channelBinding``).
        let channelBinding: [UInt8]
    }

    let side: Side
    let configuration: LinkConfiguration
    private let ephemeral = Curve25519.KeyAgreement.PrivateKey()
    let hello: Hello

    /// The dialer's handshake for a link of role `role`; fails if this node lacks that role's secret.
    init(dialerDeclaring role: LinkRole, configuration: LinkConfiguration) throws {
        guard configuration.secret(for: role) != nil else {
            throw TransportError.authenticationFailed("this node cannot dial as \(role): it holds no \(role.secretName)")
        }
        self.init(side: .dialer, role: role, configuration: configuration)
    }

    /// The listener's handshake; its hello states `role`.
    init(listenerStating role: LinkRole, configuration: LinkConfiguration) {
        self.init(side: .listener, role: role, configuration: configuration)
    }

    private init(side: Side, role: LinkRole, configuration: LinkConfiguration) {
        self.side = side
        self.configuration = configuration
        var generator = SystemRandomNumberGenerator()  // a CSPRNG on every supported platform
        var nonce: [UInt8] = []
        nonce.reserveCapacity(32)
        for _ in 0..<4 { withUnsafeBytes(of: generator.next() as UInt64) { nonce.append(contentsOf: $0) } }
        hello = Hello(
            id: configuration.identity.id, incarnation: configuration.incarnation, role: role,
            identityKey: configuration.identity.publicKeyBytes,
            ephemeralKey: Array(ephemeral.publicKey.rawRepresentation), nonce: nonce
        )
    }

    /// The listener's check of the dialer's hello, before answering it: the declared role must be
    /// accepted and this node must hold its secret.
    func admit(_ peer: Hello, accepting acceptedRoles: Set<LinkRole>) throws {
        guard acceptedRoles.contains(peer.role) else {
            throw TransportError.authenticationFailed("the peer dialled as \(peer.role), which this listener does not accept")
        }
        guard configuration.secret(for: peer.role) != nil else {
            throw TransportError.authenticationFailed("the peer dialled as \(peer.role), but this listener holds no \(peer.role.secretName)")
        }
    }

    /// The link's role: the one the dialer declared.
    private func linkRole(peer: Hello) -> LinkRole {
        side == .dialer ? hello.role : peer.role
    }

    /// The key derived from the secret of `role`; each role's has its own salt.
    private func secretKey(for role: LinkRole) throws -> SymmetricKey {
        guard let secret = configuration.secret(for: role) else {
            throw TransportError.authenticationFailed("this node holds no \(role.secretName)")
        }
        let salt: String = switch role {
        case .client: "p2pcore-cluster-secret-v1"
        case .server: "p2pcore-server-secret-v1"
        case .admin: "p2pcore-admin-secret-v1"
        }
        return HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: Array(secret.utf8)), salt: Array(salt.utf8), info: [], outputByteCount: 32
        )
    }

    private func transcript(peer: Hello) -> [UInt8] {
        side == .dialer ? hello.encoded() + peer.encoded() : peer.encoded() + hello.encoded()
    }

    /// This side's proof: HMAC(role's secret, side ‖ transcript) ‖ Ed25519 signature(side ‖ transcript).
    func authentication(peer: Hello) throws -> [UInt8] {
        let message = [side.rawValue] + transcript(peer: peer)
        let mac = HMAC<SHA256>.authenticationCode(for: message, using: try secretKey(for: linkRole(peer: peer)))
        return Array(mac) + (try configuration.identity.sign(message))
    }

    /// Checks the peer's proof and derives the session keys.
    func verify(peer: Hello, authentication: [UInt8]) throws -> Session {
        let role = linkRole(peer: peer)
        let secretKey = try secretKey(for: role)
        let peerSide: Side = side == .dialer ? .listener : .dialer
        let message = [peerSide.rawValue] + transcript(peer: peer)
        guard authentication.count == 32 + 64 else { throw TransportError.protocolViolation("authentication of \(authentication.count) bytes") }
        guard HMAC<SHA256>.isValidAuthenticationCode(Array(authentication.prefix(32)), authenticating: message, using: secretKey) else {
            throw TransportError.authenticationFailed("the peer does not know the \(role.secretName) (link role \(role))")
        }
        guard NodeIdentity.isValidSignature(Array(authentication.suffix(64)), for: message, publicKeyBytes: peer.identityKey) else {
            throw TransportError.authenticationFailed("the peer could not prove the key of \(peer.id)")
        }
        let peerEphemeral = try Curve25519.KeyAgreement.PublicKey(rawRepresentation: peer.ephemeralKey)
        let shared = try ephemeral.sharedSecretFromKeyAgreement(with: peerEphemeral)
        var salt = Array(secretKey.withUnsafeBytes { Array($0) })
        salt += Array(SHA256.hash(data: transcript(peer: peer)))
        let keys = shared.hkdfDerivedSymmetricKey(using: SHA256.self, salt: salt, sharedInfo: Array("p2pcore-session-v2".utf8), outputByteCount: 64)
        let bytes = keys.withUnsafeBytes { Array($0) }
        let dialerToListener = SymmetricKey(data: bytes.prefix(32))
        let listenerToDialer = SymmetricKey(data: bytes.suffix(32))
        let binding = Array(SHA256.hash(data: Array("p2pcore-channel-binding-v1".utf8) + transcript(peer: peer)))
        return side == .dialer
            ? Session(peer: peer, sendKey: dialerToListener, receiveKey: listenerToDialer, channelBinding: binding)
            : Session(peer: peer, sendKey: listenerToDialer, receiveKey: dialerToListener, channelBinding: binding)
    }
}
