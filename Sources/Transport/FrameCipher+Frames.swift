import Foundation
import NIOCore
import WireCodec

/// A link's frames sealed and opened whole, the same on every path (TCP on the event loop, a
/// UDP tunnel in its tasks): the one place that checks what a peer's sealed frame carries.
extension FrameCipher {
    /// The frame a link sends for `frame`: its type and payload sealed, as a frame of ``LinkEstablishment/sealedType``.
    mutating func seal(_ frame: Frame) throws -> Frame {
        Frame(type: LinkEstablishment.sealedType, payload: try seal(type: frame.type, frame.payload))
    }

    /// The application frame inside a sealed frame from the peer.
    /// - Throws: ``TransportError/protocolViolation(_:)`` for a frame that is not sealed or
    ///   carries no application type; ``TransportError/decryptionFailed`` if it does not open.
    mutating func open(_ frame: Frame) throws -> Frame {
        guard frame.type == LinkEstablishment.sealedType else { throw TransportError.protocolViolation("unsealed frame of type \(frame.type)") }
        let plaintext = try frame.payload.withUnsafeReadableBytes { try open(sealedBytes: $0) }
        guard let type = plaintext.first, type >= Link.firstApplicationType else {
            throw TransportError.protocolViolation("sealed frame without an application type")
        }
        let payload = plaintext.withUnsafeBytes { ByteBuffer(bytes: UnsafeRawBufferPointer(rebasing: $0[1...])) }
        return Frame(type: type, payload: payload)
    }
}
