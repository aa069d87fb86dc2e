import Crypto
import Foundation
import NIOCore

/// Seals or opens frame payloads with ChaChaPoly and a per-direction counter nonce, so that a
/// tampered, replayed, dropped or reordered frame fails to open.
///
/// Every frame of every link passes through here, so the key is built once and a frame's bytes
/// are handed to ChaChaPoly where they lie, without intermediate arrays.
struct FrameCipher: Sendable {
    /// `SymmetricKey` is not `Sendable` on this platform; this one is never changed after
    /// `init`, and ChaChaPoly only reads it.
    private final class Key: @unchecked Sendable {
        let key: SymmetricKey
        init(_ key: SymmetricKey) { self.key = key }
    }

    private static let tagSize = 16
    private static let nonceSize = 12

    private let key: Key
    private var counter: UInt64 = 0

    init(key: SymmetricKey) {
        self.key = Key(key)
    }

    /// Four zero bytes, then the big-endian counter: 12 bytes, which `Data` keeps inline.
    private mutating func nextNonce() throws -> ChaChaPoly.Nonce {
        var bytes = Data(count: Self.nonceSize)
        bytes.withUnsafeMutableBytes { $0.storeBytes(of: counter.bigEndian, toByteOffset: 4, as: UInt64.self) }
        counter += 1
        return try ChaChaPoly.Nonce(data: bytes)
    }

    mutating func seal(_ plaintext: [UInt8]) throws -> [UInt8] {
        let box = try ChaChaPoly.seal(plaintext, using: key.key, nonce: try nextNonce())
        return Array(box.combined.dropFirst(Self.nonceSize))
    }

    /// Seals a frame's type and payload as the payload of a sealed frame.
    mutating func seal(type: UInt8, _ payload: ByteBuffer) throws -> ByteBuffer {
        var plaintext: [UInt8] = []
        plaintext.reserveCapacity(payload.readableBytes + 1)
        plaintext.append(type)
        plaintext.append(contentsOf: payload.readableBytesView)
        let box = try ChaChaPoly.seal(plaintext, using: key.key, nonce: try nextNonce())
        // `combined` is nonce, ciphertext, tag: the frame carries the last two.
        return box.combined.withUnsafeBytes { ByteBuffer(bytes: UnsafeRawBufferPointer(rebasing: $0[Self.nonceSize...])) }
    }

    mutating func open(_ sealed: [UInt8]) throws -> [UInt8] {
        try sealed.withUnsafeBytes { Array(try open(sealedBytes: $0)) }
    }

    /// The plaintext of the ciphertext and tag in `sealed`.
    /// - Throws: ``TransportError/decryptionFailed`` if it does not open with this key and the
    ///   next nonce.
    mutating func open(sealedBytes sealed: UnsafeRawBufferPointer) throws -> Data {
        guard sealed.count >= Self.tagSize else { throw TransportError.decryptionFailed }
        let split = sealed.count - Self.tagSize
        do {
            let box = try ChaChaPoly.SealedBox(
                nonce: try nextNonce(),
                ciphertext: UnsafeRawBufferPointer(rebasing: sealed[..<split]),
                tag: UnsafeRawBufferPointer(rebasing: sealed[split...])
            )
            return try ChaChaPoly.open(box, using: key.key)
        } catch {
            throw TransportError.decryptionFailed
        }
    }
}
