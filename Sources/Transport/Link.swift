import NIOCore
import P2PCore
import Synchronization
import WireCodec

/// An authenticated, encrypted, ordered connection to one peer.
///
/// Frames are sent with ``send(type:_:)`` and arrive, decrypted and in order, on ``inbound``,
/// which finishes when the link closes (throwing if it broke). Types below 16 are reserved for
/// the link's own handshake.
///
/// Both directions are bounded: at most ``LinkConfiguration/maximumQueuedBytes`` wait to be sent
/// (a send beyond that closes the link with ``TransportError/overloaded(_:)``), and at most
/// ``LinkConfiguration/maximumInboundFrames`` received frames wait for the consumer (the link
/// stops reading meanwhile).
public final class Link: Sendable {
    /// Frame types from this value up are the application's.
    public static let firstApplicationType: UInt8 = 16
    /// The type of ``inbound``: iterate it, or pass its `AsyncIterator` around `inout`.
    public typealias Inbound = LinkInbound

    /// The peer, as proven by the handshake.
    public let peer: PeerInfo
    /// Frames from the peer.
    public let inbound: LinkInbound
    /// The most payload bytes queued for sending before the link is overloaded.
    public let maximumQueuedBytes: Int
    private let inboundBuffer: InboundFrameBuffer
    private let outbound: OutboundFrameQueue
    private let pipe: any FramePipe
    private let queued = Atomic<Int>(0)
    /// Where this link's queued bytes count beside other links' too, if anywhere.
    private let gauge: QueuedBytesGauge?

    init(
        peer: PeerInfo, inbound: InboundFrameBuffer, outbound: OutboundFrameQueue, pipe: any FramePipe, maximumQueuedBytes: Int,
        gauge: QueuedBytesGauge? = nil
    ) {
        self.gauge = gauge
        self.peer = peer
        self.inbound = LinkInbound(inbound)
        self.inboundBuffer = inbound
        self.outbound = outbound
        self.pipe = pipe
        self.maximumQueuedBytes = maximumQueuedBytes
    }

    /// Payload bytes queued and not yet handed to the connection.
    public var queuedBytes: Int { queued.load(ordering: .relaxed) }

    /// Queues a frame for the peer.
    ///
    /// - Throws: ``TransportError/closed`` once the link is closed; ``TransportError/overloaded(_:)``
    ///   (closing the link) if the frame would take the queue over ``maximumQueuedBytes``, i.e. the
    ///   peer does not read fast enough.
    public func send(type: UInt8, _ payload: [UInt8]) throws {
        guard type >= Self.firstApplicationType else {
            throw TransportError.protocolViolation("frame type \(type) is reserved")
        }
        let size = payload.count
        let total = queued.wrappingAdd(size, ordering: .relaxed).newValue
        guard total <= maximumQueuedBytes else {
            queued.wrappingSubtract(size, ordering: .relaxed)
            let error = TransportError.overloaded("\(total - size) bytes already queued for \(peer.id); the peer does not read fast enough")
            fail(error)
            throw error
        }
        if !outbound.push(Frame(type: type, bytes: payload)) {
            queued.wrappingSubtract(size, ordering: .relaxed)
            throw TransportError.closed
        }
        gauge?.add(size)
    }

    /// Called by the writer once a queued frame's payload has been handed to the connection.
    func didWrite(payloadBytes: Int) {
        queued.wrappingSubtract(payloadBytes, ordering: .relaxed)
        gauge?.subtract(payloadBytes)
    }

    /// Called by the writer when it ends with frames it will never write.
    func dropped(payloadBytes: Int) {
        gauge?.subtract(payloadBytes)
    }

    /// Closes the link; queued frames may be dropped. ``inbound`` delivers what it buffered, then
    /// finishes.
    public func close() {
        outbound.finish()
        inboundBuffer.finish()
        pipe.close()
    }

    /// Closes the link because of `error`, which ``inbound`` then throws.
    func fail(_ error: any Error) {
        outbound.finish()
        inboundBuffer.finish(throwing: error)
        pipe.close()
    }
}
