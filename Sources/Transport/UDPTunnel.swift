import NIOCore
import ReliableDatagram
import Synchronization
import WireCodec

/// A link's frame pipe over a KCP conversation with one peer, on a ``UDPEndpoint``'s socket.
///
/// Frames are encoded as a byte stream (``FrameEncoder``), cut into KCP messages and reassembled
/// on the other side (``FrameDecoder``), so any frame up to `maximumFrameSize` crosses (up to
/// `maximumHandshakeFrameSize` until the handshake is done). The KCP session is driven on the
/// socket's event loop: a tick at the time the session asks for while
/// data is in flight, and a keepalive while idle so NAT mappings stay open. Once the peer was
/// heard from, nothing at all from it for `deadAfter`, or a segment never acknowledged, fails the
/// tunnel with ``TransportError/connectionLost(_:)``; before that, the handshake's timeout
/// decides.
final class UDPTunnel: FramePipe, FramePipeWriter {
    /// How the endpoint finds a tunnel: by conversation and peer address.
    struct Key: Hashable, Sendable {
        let conversation: UInt32
        let address: SocketAddress
    }

    /// How a tunnel ends.
    private enum Ending {
        /// Closed on this side: the peer is told, the frames finish.
        case local
        /// The peer said goodbye: the frames finish.
        case peerClosed
        /// The endpoint closed: the frames fail with ``TransportError/closed``.
        case endpointClosed
        /// Broken: the peer is told, the frames fail with the error.
        case failed(any Error)
    }

    /// The KCP settings of every tunnel: fast mode, with windows wide enough for 64 KiB frames
    /// at speed and an MTU that fits any path (1200 bytes plus the 9 of the datagram's kind and
    /// incarnations, within IPv6's minimum of 1232 for a UDP payload).
    static func sessionSettings(conversation: UInt32) -> ReliableDatagramSettings {
        var settings = ReliableDatagramSettings.fast(conversation: conversation)
        settings.mtu = 1200
        settings.sendWindow = 256
        settings.receiveWindow = 512
        return settings
    }

    /// Writers wait while more segments than this are queued or in flight.
    static let sendQueueLimit = 1024
    /// Keepalives are sent this often while idle, or more often if `deadAfter` is short.
    static let keepaliveInterval = Duration.seconds(1)

    let key: Key
    let remoteAddress: String?
    var eventLoop: any EventLoop { channel.eventLoop }

    let frameSizeLimit: FrameSizeLimit
    private let channel: any Channel
    private let deadAfter: TimeAmount
    private let keepalive: TimeAmount
    private let intervalMilliseconds: Int64
    private let messageSize: Int
    private let state: Mutex<UDPTunnelState>
    private let frames: AsyncThrowingStream<Frame, any Error>
    private let frameSink: AsyncThrowingStream<Frame, any Error>.Continuation
    private let onEnd: @Sendable (UDPTunnel) -> Void

    /// A tunnel on `channel`; `onEnd` is called once when it ends. Call ``start(replaying:)`` once it
    /// is registered with the endpoint.
    init(key: Key, channel: any Channel, configuration: LinkConfiguration, onEnd: @escaping @Sendable (UDPTunnel) -> Void) throws {
        let settings = Self.sessionSettings(conversation: key.conversation)
        let session: ReliableDatagramSession
        do {
            session = try ReliableDatagramSession(settings: settings)
        } catch {
            throw TransportError.protocolViolation("tunnel settings: \(error)")
        }
        self.key = key
        self.channel = channel
        self.onEnd = onEnd
        remoteAddress = key.address.hostPortText
        frameSizeLimit = FrameSizeLimit(configuration.handshakeFrameLimit)
        deadAfter = TimeAmount(configuration.deadAfter)
        keepalive = TimeAmount(max(min(Self.keepaliveInterval, configuration.deadAfter / 4), .milliseconds(10)))
        intervalMilliseconds = Int64(settings.interval)
        messageSize = settings.maximumMessageSize
        state = Mutex(UDPTunnelState(session: session, incarnations: .random(), now: .now()))
        (frames, frameSink) = AsyncThrowingStream<Frame, any Error>.makeStream()
    }

    /// Starts the session's clock and timers, then takes `early`: the peer's datagrams that
    /// arrived before the tunnel opened.
    func start(replaying early: [UDPTunnelDatagram] = []) {
        eventLoop.execute {
            self.tick()
            for datagram in early { self.receive(datagram) }
        }
    }

    // MARK: FramePipe

    func execute(_ body: (_ inbound: AsyncThrowingStream<Frame, any Error>, _ outbound: UDPTunnel) async throws -> Void) async throws {
        do {
            try await body(frames, self)
        } catch {
            close()
            throw error
        }
        close()
    }

    func close() {
        end(.local)
    }

    // MARK: FramePipeWriter

    func write(_ frame: Frame) async throws {
        var encoded = ByteBuffer()
        try FrameEncoder().encode(data: frame, out: &encoded)
        let bytes = Array(encoded.readableBytesView)
        try await waitForRoom()
        let flush = try state.withLock { state in
            guard !state.isClosed else { throw TransportError.closed }
            var start = 0
            while start < bytes.count {
                let end = min(start + messageSize, bytes.count)
                do {
                    try state.session.send(message: Array(bytes[start..<end]))
                } catch {
                    throw TransportError.protocolViolation("tunnel message: \(error)")
                }
                start = end
            }
            return state.requestFlush()
        }
        if flush { eventLoop.execute { self.tick() } }
    }

    /// Returns once the send queue is below its limit; throws once the tunnel is closed.
    private func waitForRoom() async throws {
        let writer: UInt64? = try state.withLock { state in
            guard !state.isClosed else { throw TransportError.closed }
            guard state.session.waitingToSend >= Self.sendQueueLimit else { return nil }
            state.nextWriter += 1
            return state.nextWriter
        }
        guard let writer else { return }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let outcome: Result<Void, any Error>? = state.withLock { state in
                    if state.isClosed { return .failure(TransportError.closed) }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    if state.session.waitingToSend < Self.sendQueueLimit { return .success(()) }
                    state.waitingWriters[writer] = continuation
                    return nil
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            let continuation = state.withLock { $0.waitingWriters.removeValue(forKey: writer) }
            continuation?.resume(throwing: CancellationError())
        }
    }

    // MARK: From the endpoint (on the event loop)

    /// Ticks run so far.
    var ticks: Int { state.withLock(\.ticks) }

    /// A datagram from the peer's address for this conversation.
    func receive(_ datagram: UDPTunnelDatagram) {
        switch datagram.kind {
        case .segment(let segment): receive(segment: segment, sender: datagram.sender, receiver: datagram.receiver)
        case .keepalive: receiveKeepalive(sender: datagram.sender, receiver: datagram.receiver)
        case .goodbye: receiveGoodbye(sender: datagram.sender, receiver: datagram.receiver)
        }
    }

    /// A KCP segment from the peer.
    private func receive(segment: [UInt8], sender: UInt32, receiver: UInt32) {
        let now = NIODeadline.now()
        let (decoded, failure, flush): ([Frame], (any Error)?, Bool) = state.withLock { state in
            guard !state.isClosed, state.incarnations.admitsSegment(sender: sender, receiver: receiver) else { return ([], nil, false) }
            do {
                try state.session.input(datagram: segment)
            } catch {
                return ([], nil, false)  // Malformed: dropped, and not a sign of life either.
            }
            state.incarnations.learn(peer: sender)
            state.silence.heard(at: now)
            while let message = state.session.receive() { state.received.writeBytes(message) }
            var decoded: [Frame] = []
            let decoder = FrameDecoder(limit: frameSizeLimit)
            do {
                while let frame = try decoder.decode(buffer: &state.received) { decoded.append(frame) }
            } catch {
                return (decoded, error, false)
            }
            if state.received.readableBytes == 0 {
                state.received.clear()
            } else if state.received.readerIndex >= 1 << 20 {
                state.received.discardReadBytes()
            }
            return (decoded, nil, state.requestFlush())
        }
        // Only the event loop yields, so frames stay in order.
        for frame in decoded { frameSink.yield(frame) }
        if let failure { end(.failed(failure)) }
        // Queued behind the rest of this read burst, so one flush acknowledges all of it.
        if flush { eventLoop.execute { self.tick() } }
    }

    /// A keepalive from the peer.
    private func receiveKeepalive(sender: UInt32, receiver: UInt32) {
        let now = NIODeadline.now()
        state.withLock { state in
            if state.incarnations.admitsControl(sender: sender, receiver: receiver) { state.silence.heard(at: now) }
        }
    }

    /// The peer closed the tunnel.
    private func receiveGoodbye(sender: UInt32, receiver: UInt32) {
        guard state.withLock({ $0.incarnations.admitsControl(sender: sender, receiver: receiver) }) else { return }
        end(.peerClosed)
    }

    /// The endpoint closed.
    func endpointClosed() {
        end(.endpointClosed)
    }

    // MARK: Driving the session

    /// Advances the session, sends what it emits (or a keepalive), wakes writers, checks for a
    /// dead peer and schedules the next tick. Runs on the event loop.
    private func tick() {
        let now = NIODeadline.now()
        let clock = UInt32(truncatingIfNeeded: now.uptimeNanoseconds / 1_000_000)
        var datagrams: [ByteBuffer] = []
        var writers: [CheckedContinuation<Void, any Error>] = []
        var failure: TransportError?
        state.withLock { state in
            guard !state.isClosed else { return }
            state.ticks += 1
            // Until the peer is heard from at all, the handshake's timeout decides: the peer may
            // open its end later than `deadAfter` after this one (its introduction came later).
            if state.incarnations.peer != nil,
               state.silence.isGone(now: now, due: state.timerDue, deadAfter: deadAfter, stall: keepalive) {
                failure = .connectionLost("nothing from \(remoteAddress ?? "the peer") for \(deadAfter.nanoseconds / 1_000_000) ms")
                return
            }
            state.session.update(current: clock)
            if state.flushRequested {
                state.flushRequested = false
                state.session.flush()
            }
            if state.session.isDeadLink {
                failure = .connectionLost("\(remoteAddress ?? "the peer") stopped acknowledging")
                return
            }
            let incarnations = state.incarnations
            datagrams = state.session.drainOutbox().map { segment in
                datagram(.segment(segment), incarnations)
            }
            if datagrams.isEmpty, now - state.lastSent >= keepalive {
                datagrams = [datagram(.keepalive, incarnations)]
            }
            if !datagrams.isEmpty { state.lastSent = now }
            if state.session.waitingToSend < Self.sendQueueLimit, !state.waitingWriters.isEmpty {
                writers = Array(state.waitingWriters.values)
                state.waitingWriters.removeAll()
            }

            let next: NIODeadline
            if state.session.waitingToSend > 0 {
                // `check` names a time at most one interval away (never in the past after a flush).
                let wait = Int64(Int32(bitPattern: state.session.check(current: clock) &- clock))
                next = now + .milliseconds(min(max(wait, 1), intervalMilliseconds))
            } else {
                // Idle: nothing to send or retransmit until the next keepalive or the peer's
                // deadline (none until the peer was heard from).
                let keepaliveDue = state.lastSent + keepalive
                let deadline = state.incarnations.peer == nil ? keepaliveDue : min(keepaliveDue, state.silence.deadline(deadAfter: deadAfter))
                next = max(deadline, now + .milliseconds(1))
            }
            state.timer?.cancel()
            state.timer = eventLoop.scheduleTask(deadline: next) { self.tick() }
            state.timerDue = next
        }
        transmit(datagrams)
        for writer in writers { writer.resume() }
        if let failure { end(.failed(failure)) }
    }

    private func transmit(_ datagrams: [ByteBuffer]) {
        guard !datagrams.isEmpty else { return }
        for datagram in datagrams {
            channel.write(AddressedEnvelope(remoteAddress: key.address, data: datagram), promise: nil)
        }
        channel.flush()
    }

    /// A datagram of this tunnel, stamped with both incarnations.
    private func datagram(_ kind: UDPTunnelDatagram.Kind, _ incarnations: UDPTunnelIncarnations) -> ByteBuffer {
        UDPTunnelDatagram(kind: kind, conversation: key.conversation, sender: incarnations.local, receiver: incarnations.receiverStamp).encoded
    }

    private func end(_ ending: Ending) {
        let (wasOpen, timer, writers, incarnations) = state.withLock { state in
            guard !state.isClosed else {
                return (false, Scheduled<Void>?.none, [CheckedContinuation<Void, any Error>](), state.incarnations)
            }
            state.isClosed = true
            defer {
                state.timer = nil
                state.waitingWriters.removeAll()
            }
            return (true, state.timer, Array(state.waitingWriters.values), state.incarnations)
        }
        guard wasOpen else { return }
        timer?.cancel()
        for writer in writers { writer.resume(throwing: TransportError.closed) }
        switch ending {
        case .local:
            transmit([datagram(.goodbye, incarnations)])
            frameSink.finish()
        case .peerClosed:
            frameSink.finish()
        case .endpointClosed:
            frameSink.finish(throwing: TransportError.closed)
        case .failed(let error):
            transmit([datagram(.goodbye, incarnations)])
            frameSink.finish(throwing: error)
        }
        onEnd(self)
    }
}
