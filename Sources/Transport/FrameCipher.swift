import Crypto
import NIOCore

/// Seals or opens frame payloads with ChaChaPoly and a per-direction counter nonce, so that a
/// tampered, replayed, dropped or reordered frame fails to open.
struct FrameCipher: Sendable {
    // Raw bytes rather than `SymmetricKey`, which is not `Sendable` on this platform.
    private let keyBytes: [UInt8]
    private var counter: UInt64 = 0

    init(key: SymmetricKey) {
        keyBytes = key.withUnsafeBytes { Array($0) }
    }

    private var key: SymmetricKey { SymmetricKey(data: keyBytes) }

    private mutating func nextNonce() throws -> ChaChaPoly.Nonce {
        var bytes = [UInt8](repeating: 0, count: 4)
        withUnsafeBytes(of: counter.bigEndian) { bytes.append(contentsOf: $0) }
        counter += 1
        return try ChaChaPoly.Nonce(data: bytes)
    }

    mutating func seal(_ plaintext: [UInt8]) throws -> [UInt8] {
        let box = try ChaChaPoly.seal(plaintext, using: key, nonce: try nextNonce())
        return Array(box.ciphertext) + Array(box.tag)
    }

    /// Seals a frame's type and payload as the payload of a sealed frame, with one copy each way.
    mutating func seal(type: UInt8, _ payload: ByteBuffer) throws -> ByteBuffer {
        var plaintext: [UInt8] = []
        plaintext.reserveCapacity(payload.readableBytes + 1)
        plaintext.append(type)
        plaintext.append(contentsOf: payload.readableBytesView)
        let box = try ChaChaPoly.seal(plaintext, using: key, nonce: try nextNonce())
        var sealed = ByteBuffer()
        sealed.reserveCapacity(box.ciphertext.count + box.tag.count)
        sealed.writeBytes(box.ciphertext)
        sealed.writeBytes(box.tag)
        return sealed
    }

    mutating func open(_ sealed: [UInt8]) throws -> [UInt8] {
        guard sealed.count >= 16 else { throw TransportError.decryptionFailed }
        do {
            let box = try ChaChaPoly.SealedBox(nonce: try nextNonce(), ciphertext: sealed.dropLast(16), tag: sealed.suffix(16))
            return Array(try ChaChaPoly.open(box, using: key))
        } catch {
            throw TransportError.decryptionFailed
        }
    }
}
