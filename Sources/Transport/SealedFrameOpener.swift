import DequeModule
import NIOCore
import WireCodec

/// On a TCP link's channel, between the frame decoder and the handshake: once the link is up
/// (``arm(cipher:buffer:)``), opens each sealed frame on the event loop and hands it to the link's
/// ``InboundFrameBuffer``, so a frame reaches its consumer with one hop (the consumer's wake-up)
/// instead of two (a reader task's, then the consumer's). During the handshake frames pass on
/// to it unchanged.
///
/// Sealed frames that arrive after the peer's authentication and before the handshake task
/// armed the opener (a listener sends its first sealed frames right behind its authentication)
/// are held (reading pauses at 64). Before the peer's authentication a sealed frame passes on,
/// and the handshake refuses it as out of order.
///
/// Backpressure: the buffer takes at most its capacity; what one read brought beyond that waits
/// here, and the channel's reads are withheld until the consumer made room (the buffer calls
/// back, ``InboundFrameBuffer/hasRoom(orCall:)``). The link's end is the handshake task's to
/// report (after it uncounted the link, ``close()``), not this handler's.
final class SealedFrameOpener: ChannelDuplexHandler {
    typealias InboundIn = Frame
    typealias InboundOut = Frame
    typealias OutboundIn = Frame
    typealias OutboundOut = Frame

    /// Sealed frames held before the opener is armed, at most.
    static let holdLimit = 64

    private let authenticationType: UInt8
    private var cipher: FrameCipher?
    private var buffer: InboundFrameBuffer?
    private var authenticationPassed = false
    /// Sealed frames that came before the opener was armed.
    private var held: [Frame] = []
    /// Opened frames waiting for room in the buffer, in order.
    private var waiting: Deque<Frame> = []
    private var readPending = false
    private var failure: (any Error)?
    private var context: ChannelHandlerContext?

    init(authenticationType: UInt8) {
        self.authenticationType = authenticationType
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    /// From now on frames are opened with `cipher` and go to `buffer` (the held ones first).
    func arm(cipher: FrameCipher, buffer: InboundFrameBuffer) {
        self.cipher = cipher
        self.buffer = buffer
        let early = held
        held = []
        for frame in early { open(frame) }
        resume()
    }

    /// Once the channel closed: hands the buffer what still waits here (past its capacity: the
    /// connection is gone, and it was one read's worth) and returns why the link failed, if it
    /// did.
    func close() -> (any Error)? {
        if let buffer {
            while let frame = waiting.popFirst() { buffer.push(frame) }
        }
        // The buffer may hold a callback to this handler: let go of each other.
        buffer = nil
        cipher = nil
        return failure
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        if buffer != nil {
            open(frame)
        } else if authenticationPassed && frame.type == LinkEstablishment.sealedType {
            held.append(frame)
        } else {
            if frame.type == authenticationType { authenticationPassed = true }
            context.fireChannelRead(data)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard buffer != nil else { return context.fireErrorCaught(error) }
        fail(error)
    }

    func read(context: ChannelHandlerContext) {
        guard mayRead() else {
            readPending = true
            return
        }
        context.read()
    }

    /// Whether the next read is welcome: nothing waits here and the buffer has room (else it
    /// calls ``resume()`` on the event loop once it has).
    private func mayRead() -> Bool {
        guard let buffer else { return held.count < Self.holdLimit }
        return waiting.isEmpty && hasRoom(buffer)
    }

    private func hasRoom(_ buffer: InboundFrameBuffer) -> Bool {
        guard let context else { return true }
        let opener = NIOLoopBound(self, eventLoop: context.eventLoop)
        return buffer.hasRoom { [eventLoop = context.eventLoop] in
            eventLoop.execute { opener.value.resume() }
        }
    }

    /// Moves waiting frames into the buffer while it has room, then reads again if a read was
    /// withheld.
    private func resume() {
        guard let buffer else { return }
        while !waiting.isEmpty, hasRoom(buffer), let frame = waiting.popFirst() { buffer.push(frame) }
        guard readPending, mayRead(), let context else { return }
        readPending = false
        context.read()
    }

    private func open(_ frame: Frame) {
        guard failure == nil, var cipher, let buffer else { return }
        do {
            let opened = try cipher.open(frame)
            self.cipher = cipher
            if waiting.isEmpty && hasRoom(buffer) {
                buffer.push(opened)
            } else {
                waiting.append(opened)
            }
        } catch {
            fail(error)
        }
    }

    private func fail(_ error: any Error) {
        guard failure == nil else { return }
        failure = LinkEstablishment.typed(error)
        context?.close(promise: nil)
    }
}
