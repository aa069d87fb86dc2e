import NIOCore
import Synchronization
import WireCodec

/// A TCP link's writer: seals the frames its ``OutboundFrameQueue`` holds and writes them on the
/// channel's event loop, one flush for all the frames queued since the last drain.
///
/// A sender's frame thus reaches the socket with one hop (to the event loop), where a writer
/// task took two (waking the task, then the task handing the batch to the event loop). The
/// frames count as queued on the link until the channel wrote them, so the link's bound on
/// queued bytes holds against a peer that does not read. A UDP tunnel keeps the writer task.
final class ChannelFrameWriter: Sendable {
    private let channel: any Channel
    private let queue: OutboundFrameQueue
    private let link: Link
    /// Touched only on the event loop (drains run there, one at a time); a lock that is never
    /// contended costs less than proving that to the compiler.
    private let cipher: Mutex<FrameCipher>
    private let onFailure: @Sendable (any Error) -> Void

    init(channel: any Channel, queue: OutboundFrameQueue, link: Link, cipher: FrameCipher, onFailure: @escaping @Sendable (any Error) -> Void) {
        self.channel = channel
        self.queue = queue
        self.link = link
        self.cipher = Mutex(cipher)
        self.onFailure = onFailure
    }

    /// Starts draining the queue on the channel's event loop.
    func start() {
        queue.drain(on: channel.eventLoop) { [self] in drain() }
    }

    private func drain() {
        let frames = queue.takeForDrain()
        guard !frames.isEmpty else { return }
        let bytes = frames.reduce(0) { $0 + $1.payload.readableBytes }
        let sealed: [Frame]
        do {
            sealed = try cipher.withLock { cipher in
                try frames.map { try cipher.seal($0) }
            }
        } catch {
            link.dropped(payloadBytes: bytes)
            onFailure(error)
            return
        }
        // Writes complete in order: the last one's promise speaks for the batch.
        let written = channel.eventLoop.makePromise(of: Void.self)
        for frame in sealed.dropLast() { channel.write(frame, promise: nil) }
        if let last = sealed.last { channel.writeAndFlush(last, promise: written) }
        written.futureResult.whenComplete { [link, onFailure] result in
            switch result {
            case .success: link.didWrite(payloadBytes: bytes)
            case .failure(let error):
                link.dropped(payloadBytes: bytes)
                onFailure(error)
            }
        }
    }
}
