import NIOCore
import P2PCore
import WireCodec

/// An authenticated, encrypted, ordered connection to one peer.
///
/// Frames are sent with ``send(type:_:)`` and arrive, decrypted and in order, on ``inbound``,
/// which finishes when the link closes (throwing if it broke). Types below 16 are reserved for
/// the link's own handshake.
public final class Link: Sendable {
    /// Frame types from this value up are the application's.
    public static let firstApplicationType: UInt8 = 16

    /// The peer, as proven by the handshake.
    public let peer: PeerInfo
    /// Frames from the peer.
    public let inbound: AsyncThrowingStream<Frame, any Error>
    private let outbound: AsyncStream<Frame>.Continuation
    private let pipe: any FramePipe

    init(peer: PeerInfo, inbound: AsyncThrowingStream<Frame, any Error>, outbound: AsyncStream<Frame>.Continuation, pipe: any FramePipe) {
        self.peer = peer
        self.inbound = inbound
        self.outbound = outbound
        self.pipe = pipe
    }

    /// Queues a frame for the peer; throws ``TransportError/closed`` once the link is closed.
    public func send(type: UInt8, _ payload: [UInt8]) throws {
        guard type >= Self.firstApplicationType else {
            throw TransportError.protocolViolation("frame type \(type) is reserved")
        }
        if case .terminated = outbound.yield(Frame(type: type, bytes: payload)) {
            throw TransportError.closed
        }
    }

    /// Closes the link; queued frames may be dropped.
    public func close() {
        outbound.finish()
        pipe.close()
    }
}
