import NIOCore
import NIOPosix
import P2PCore
import Synchronization
import WireCodec

/// Runs a link's whole life on a ``FramePipe``: handshake, then the encrypting writer and the
/// decrypting reader, until either side closes.
enum LinkEstablishment {
    static let sealedType: UInt8 = 3

    /// Adds the framing handlers; used by both the dialer and the listener.
    static func configure(_ channel: any Channel, maximumFrameSize: Int) throws -> NIOAsyncChannel<Frame, Frame> {
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder(maximumFrameSize: maximumFrameSize)))
        try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(FrameEncoder()))
        return try NIOAsyncChannel<Frame, Frame>(wrappingChannelSynchronously: channel)
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

    /// Performs the handshake on a TCP channel and returns the link.
    static func run(
        _ asyncChannel: NIOAsyncChannel<Frame, Frame>,
        role: Handshake.Role,
        configuration: LinkConfiguration,
        vet: @escaping @Sendable (PeerInfo) -> Bool
    ) async throws -> Link {
        try await run(ChannelFramePipe(asyncChannel), role: role, configuration: configuration, vet: vet)
    }

    /// Performs the handshake and returns the link; the link keeps running in its own task.
    static func run<Pipe: FramePipe>(
        _ pipe: Pipe,
        role: Handshake.Role,
        configuration: LinkConfiguration,
        vet: @escaping @Sendable (PeerInfo) -> Bool
    ) async throws -> Link {
        let remoteAddress = pipe.remoteAddress
        let (inboundStream, inboundContinuation) = AsyncThrowingStream<Frame, any Error>.makeStream()
        let (outboundStream, outboundContinuation) = AsyncStream<Frame>.makeStream()
        return try await withCheckedThrowingContinuation { continuation in
            let once = Once(continuation)
            let timedOut = Flag()
            let nanoseconds = configuration.handshakeTimeout.components.seconds * 1_000_000_000
                + configuration.handshakeTimeout.components.attoseconds / 1_000_000_000
            let timer = pipe.eventLoop.scheduleTask(in: .nanoseconds(nanoseconds)) {
                timedOut.set()
                pipe.close()
            }
            Task {
                do {
                    try await pipe.execute { inbound, outbound in
                        var frames = inbound.makeAsyncIterator()
                        let handshake = Handshake(role: role, configuration: configuration)
                        try await outbound.write(Frame(type: Handshake.helloType, bytes: handshake.hello.encoded()))
                        guard let helloFrame = try await frames.next() else { throw TransportError.closed }
                        guard helloFrame.type == Handshake.helloType else { throw TransportError.protocolViolation("expected hello") }
                        let peerHello = try Handshake.Hello.decode(helloFrame.bytes)
                        try await outbound.write(Frame(type: Handshake.authType, bytes: try handshake.authentication(peer: peerHello)))
                        guard let authFrame = try await frames.next() else {
                            throw TransportError.authenticationFailed("the peer closed the connection during the handshake (wrong secret?)")
                        }
                        guard authFrame.type == Handshake.authType else { throw TransportError.protocolViolation("expected authentication") }
                        let session = try handshake.verify(peer: peerHello, authentication: authFrame.bytes)
                        timer.cancel()
                        let peer = PeerInfo(id: peerHello.id, incarnation: peerHello.incarnation, publicKey: peerHello.identityKey, remoteAddress: remoteAddress)
                        guard vet(peer) else { throw TransportError.peerRefused(peer.id) }
                        once.resume(.success(Link(peer: peer, inbound: inboundStream, outbound: outboundContinuation, pipe: pipe)))

                        let sendCipher = FrameCipher(key: session.sendKey)
                        try await withThrowingTaskGroup(of: Void.self) { group in
                            group.addTask {
                                var cipher = sendCipher
                                for await frame in outboundStream {
                                    try await outbound.write(Frame(type: sealedType, bytes: try cipher.seal([frame.type] + frame.bytes)))
                                }
                                pipe.close()
                            }
                            var cipher = FrameCipher(key: session.receiveKey)
                            while let frame = try await frames.next() {
                                guard frame.type == sealedType else { throw TransportError.protocolViolation("unsealed frame of type \(frame.type)") }
                                let plaintext = try cipher.open(frame.bytes)
                                guard let type = plaintext.first, type >= Link.firstApplicationType else {
                                    throw TransportError.protocolViolation("sealed frame without an application type")
                                }
                                inboundContinuation.yield(Frame(type: type, bytes: Array(plaintext.dropFirst())))
                            }
                            outboundContinuation.finish()
                            group.cancelAll()
                        }
                    }
                    inboundContinuation.finish()
                } catch {
                    timer.cancel()
                    // Callers see typed errors only: the link's own, the framing's, or connectionLost.
                    let reported: any Error
                    if timedOut.isSet {
                        reported = TransportError.handshakeTimedOut
                    } else if error is TransportError || error is WireError {
                        reported = error
                    } else {
                        reported = TransportError.connectionLost("\(error)")
                    }
                    once.resume(.failure(reported))
                    outboundContinuation.finish()
                    inboundContinuation.finish(throwing: reported)
                }
            }
        }
    }
}
