import Crypto

/// Proves knowledge of the cluster secret on UDP datagrams that need it (observe requests and
/// replies): HMAC-SHA256 with a key derived from the secret, distinct from the link handshake's.
package struct UDPDatagramAuthenticator: Sendable {
    /// Bytes of a MAC.
    static let macSize = 32

    // Raw bytes rather than `SymmetricKey`, which is not `Sendable` on this platform.
    private let keyBytes: [UInt8]

    package init(secret: String) {
        let key = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: Array(secret.utf8)),
            salt: Array("p2pcore-udp-datagram-v1".utf8), info: [], outputByteCount: 32
        )
        keyBytes = key.withUnsafeBytes { Array($0) }
    }

    /// The MAC of `message`.
    func mac(_ message: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: keyBytes)))
    }

    /// Whether `mac` authenticates `message` (constant-time comparison).
    func isValid(mac: some Collection<UInt8>, for message: some Collection<UInt8>) -> Bool {
        guard mac.count == Self.macSize else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(Array(mac), authenticating: Array(message), using: SymmetricKey(data: keyBytes))
    }
}
