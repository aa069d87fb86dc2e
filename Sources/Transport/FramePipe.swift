import NIOCore
import WireCodec

/// An ordered, reliable, bidirectional pipe of frames to one peer, on which
/// ``LinkEstablishment`` runs the handshake and then the sealed link: a TCP channel
/// (``ChannelFramePipe``) or a KCP tunnel over a UDP socket (``UDPTunnel``).
///
/// The pipe only moves frames; authentication and encryption are the link's.
protocol FramePipe: Sendable {
    /// Frames from the peer, in order. The sequence finishes when the pipe closes (throwing if
    /// it broke).
    associatedtype Inbound: AsyncSequence<Frame, any Error>
    /// Writes frames to the peer, in order.
    associatedtype Writer: FramePipeWriter

    /// The peer's address (`ip:port`), if known.
    var remoteAddress: String? { get }
    /// The event loop that runs the pipe's timers (the handshake deadline).
    var eventLoop: any EventLoop { get }
    /// The largest frame the pipe's decoder accepts: the handshake's limit until
    /// ``LinkEstablishment`` raises it to the link's.
    var frameSizeLimit: FrameSizeLimit { get }

    /// Gives `body` the inbound frames and the writer, and closes the pipe once `body` returns or
    /// throws.
    func execute(_ body: (_ inbound: Inbound, _ outbound: Writer) async throws -> Void) async throws

    /// Closes the pipe: the inbound frames finish and further writes fail. Idempotent.
    func close()

    /// The TCP channel under the pipe, if it is one: the link then reads and writes on its event
    /// loop (``SealedFrameOpener``, ``ChannelFrameWriter``).
    var tcpChannel: (any Channel)? { get }
}

extension FramePipe {
    var tcpChannel: (any Channel)? { nil }
}
