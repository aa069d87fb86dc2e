import NIOCore
import NIOPosix
import P2PCore
import Synchronization
import WireCodec

/// Runs a link's whole life on a ``FramePipe``: handshake, then the encrypting writer and the
/// decrypting reader, until either side closes.
enum LinkEstablishment {
    static let sealedType: UInt8 = 3

    /// The part this side plays in the handshake.
    enum Stance: Sendable {
        /// Dials, declaring the link's role.
        case dialer(declaring: LinkRole)
        /// Listens, stating its own role and accepting dialers of the given roles.
        case listener(stating: LinkRole, accepting: Set<LinkRole>)
    }

    /// Adds the framing handlers; used by both the dialer and the listener. The decoder is held to
    /// `limit`, which the handshake raises once the peer is authenticated.
    static func configure(_ channel: any Channel, limit: FrameSizeLimit) throws -> NIOAsyncChannel<Frame, Frame> {
        try addFraming(channel, limit: limit)
        return try NIOAsyncChannel<Frame, Frame>(wrappingChannelSynchronously: channel)
    }

    /// Adds the framing handlers only (a listener wraps its accepted connections later: ``AcceptedChannel``).
    static func addFraming(_ channel: any Channel, limit: FrameSizeLimit) throws {
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder(limit: limit)))
        try channel.pipeline.syncOperations.addHandler(SealedFrameOpener(authenticationType: Handshake.authType))
        try channel.pipeline.syncOperations.addHandler(FrameWriter())
    }

    private final class Once: Sendable {
        private let state = Mutex<CheckedContinuation<Link, any Error>?>(nil)
        init(_ continuation: CheckedContinuation<Link, any Error>) { state.withLock { $0 = continuation } }
        func resume(_ result: Result<Link, any Error>) {
            state.withLock { continuation in
                continuation?.resume(with: result)
                continuation = nil
            }
        }
    }

    private final class Flag: Sendable {
        private let value = Mutex(false)
        func set() { value.withLock { $0 = true } }
        var isSet: Bool { value.withLock { $0 } }
    }

    /// Callers see typed errors only: the link's own, the framing's, or connectionLost.
    static func typed(_ error: any Error) -> any Error {
        error is TransportError || error is WireError ? error : TransportError.connectionLost("\(error)")
    }

    /// Performs the handshake and returns the link; the link keeps running in its own task.
    /// - Parameters:
    ///   - vet: decides whether the authenticated peer is accepted (else ``TransportError/peerRefused(_:)``).
    ///   - admit: last check before the link is made (a listener's link caps); throws to refuse.
    ///   - onEnd: called once the pipe is done with, telling whether `admit` had let the link in.
    static func run<Pipe: FramePipe>(
        _ pipe: Pipe,
        stance: Stance,
        configuration: LinkConfiguration,
        vet: @escaping @Sendable (PeerInfo) -> Bool,
        admit: @escaping @Sendable (PeerInfo) throws -> Void = { _ in },
        onEnd: @escaping @Sendable (_ established: Bool) -> Void = { _ in }
    ) async throws -> Link {
        let remoteAddress = pipe.remoteAddress
        let inboundBuffer = InboundFrameBuffer(capacity: configuration.maximumInboundFrames)
        let outboundQueue = OutboundFrameQueue()
        return try await withCheckedThrowingContinuation { continuation in
            let once = Once(continuation)
            let timedOut = Flag()
            let established = Flag()
            let timer = pipe.eventLoop.scheduleTask(in: TimeAmount(configuration.handshakeTimeout)) {
                timedOut.set()
                pipe.close()
            }
            Task {
                do {
                    try await pipe.execute { inbound, outbound in
                        var frames = inbound.makeAsyncIterator()
                        let (peerHello, session) = try await handshake(
                            stance: stance, configuration: configuration, limit: pipe.frameSizeLimit,
                            next: { try await frames.next() }, write: { try await outbound.write($0) }
                        )
                        timer.cancel()
                        let peer = PeerInfo(
                            id: peerHello.id, incarnation: peerHello.incarnation, publicKey: peerHello.identityKey,
                            remoteAddress: remoteAddress, role: peerHello.role, channelBinding: session.channelBinding
                        )
                        guard vet(peer) else { throw TransportError.peerRefused(peer.id) }
                        try admit(peer)
                        established.set()
                        let link = Link(
                            peer: peer, inbound: inboundBuffer, outbound: outboundQueue, pipe: pipe,
                            maximumQueuedBytes: configuration.maximumQueuedBytes,
                            gauge: peer.role == .client ? configuration.clientQueuedBytes : nil
                        )
                        once.resume(.success(link))

                        let sendCipher = FrameCipher(key: session.sendKey)
                        var receiveCipher = FrameCipher(key: session.receiveKey)
                        // Pull from the pipe only while the consumer has room: the pipe's
                        // backpressure then stops reading from the peer.
                        func readUntilClosed() async throws {
                            while await inboundBuffer.waitForRoom() {
                                guard let frame = try await frames.next() else { break }
                                inboundBuffer.push(try receiveCipher.open(frame))
                            }
                        }
                        if let channel = pipe.tcpChannel {
                            // TCP: written from the event loop, no writer task.
                            let writer = ChannelFrameWriter(
                                channel: channel, queue: outboundQueue, link: link, cipher: sendCipher,
                                onFailure: { error in link.fail(typed(error)) }
                            )
                            writer.start()
                            defer { link.dropped(payloadBytes: outboundQueue.drop()) }
                            // Read from the event loop too: the opener hands frames to the buffer.
                            let cipher = receiveCipher
                            let opener = try await channel.eventLoop.submit {
                                let opener = try channel.pipeline.syncOperations.handler(type: SealedFrameOpener.self)
                                opener.arm(cipher: cipher, buffer: inboundBuffer)
                                return NIOLoopBound(opener, eventLoop: channel.eventLoop)
                            }.get()
                            try await channel.closeFuture.get()
                            if let failure = try await channel.eventLoop.submit({ opener.value.close() }).get() { throw failure }
                            return
                        }
                        try await withThrowingTaskGroup(of: Void.self) { group in
                            group.addTask {
                                var cipher = sendCipher
                                // The batch taken and not yet written: dropped with the rest if the writer ends.
                                var writing = 0
                                do {
                                    while let frames = await outboundQueue.next() {
                                        writing = frames.reduce(0) { $0 + $1.payload.readableBytes }
                                        let sealed = try frames.map { try cipher.seal($0) }
                                        try await outbound.write(batch: sealed)
                                        link.didWrite(payloadBytes: writing)
                                        writing = 0
                                    }
                                } catch {
                                    link.fail(typed(error))
                                    link.dropped(payloadBytes: writing + outboundQueue.drop())
                                    throw error
                                }
                                link.dropped(payloadBytes: outboundQueue.drop())
                                pipe.close()
                            }
                            try await readUntilClosed()
                            outboundQueue.finish()
                            group.cancelAll()
                        }
                    }
                    // Uncounted before anyone hears of the end, so a listener's caps never lag.
                    onEnd(established.isSet)
                    inboundBuffer.finish()
                } catch {
                    timer.cancel()
                    let reported = timedOut.isSet ? TransportError.handshakeTimedOut : typed(error)
                    onEnd(established.isSet)
                    once.resume(.failure(reported))
                    outboundQueue.finish()
                    inboundBuffer.finish(throwing: reported)
                }
            }
        }
    }

    /// Runs the handshake's messages in the order of ``Handshake`` and raises `limit` to the
    /// link's maximum once the peer may send sealed frames: on the listener, only after the dialer
    /// proved its secret; on the dialer, as it sends its authentication (the listener may follow
    /// its own at once with sealed frames).
    private static func handshake(
        stance: Stance,
        configuration: LinkConfiguration,
        limit: FrameSizeLimit,
        next: () async throws -> Frame?,
        write: (Frame) async throws -> Void
    ) async throws -> (Handshake.Hello, Handshake.Session) {
        func receive(_ type: UInt8, _ what: String, orElse closed: TransportError) async throws -> [UInt8] {
            guard let frame = try await next() else { throw closed }
            guard frame.type == type else { throw TransportError.protocolViolation("expected \(what), got a frame of type \(frame.type)") }
            return frame.bytes
        }
        switch stance {
        case .dialer(let role):
            let handshake = try Handshake(dialerDeclaring: role, configuration: configuration)
            try await write(Frame(type: Handshake.helloType, bytes: handshake.hello.encoded()))
            let peer = try Handshake.Hello.decode(try await receive(
                Handshake.helloType, "hello",
                orElse: .authenticationFailed("the listener closed the connection before its hello (does it accept the \(role) role and hold the \(role.secretName)?)")
            ))
            limit.set(configuration.maximumFrameSize)
            try await write(Frame(type: Handshake.authType, bytes: try handshake.authentication(peer: peer)))
            let authentication = try await receive(
                Handshake.authType, "authentication",
                orElse: .authenticationFailed("the listener closed the connection instead of authenticating (wrong \(role.secretName)?)")
            )
            return (peer, try handshake.verify(peer: peer, authentication: authentication))
        case .listener(let role, let acceptedRoles):
            // The hello first: a connection that never says hello costs no ephemeral key.
            let peer = try Handshake.Hello.decode(try await receive(Handshake.helloType, "hello", orElse: .closed))
            let handshake = Handshake(listenerStating: role, configuration: configuration)
            try handshake.admit(peer, accepting: acceptedRoles)
            try await write(Frame(type: Handshake.helloType, bytes: handshake.hello.encoded()))
            let authentication = try await receive(
                Handshake.authType, "authentication",
                orElse: .authenticationFailed("the peer closed the connection before authenticating")
            )
            // Throws on a wrong proof: the pipe closes without this side's authentication.
            let session = try handshake.verify(peer: peer, authentication: authentication)
            limit.set(configuration.maximumFrameSize)
            try await write(Frame(type: Handshake.authType, bytes: try handshake.authentication(peer: peer)))
            return (peer, session)
        }
    }
}
