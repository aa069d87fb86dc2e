import NIOCore
import NIOPosix

/// The raw baseline: a SwiftNIO TCP server on loopback that echoes length-prefixed messages,
/// and a client that keeps a number of requests in flight on one connection. A request's
/// latency is the time until its echo arrived (echoes come back in order, so the oldest
/// outstanding request is the one answered).
final class RawTCPPingPong: Sendable {
    private let group: any EventLoopGroup
    private let server: any Channel
    private let port: Int

    private init(group: any EventLoopGroup, server: any Channel, port: Int) {
        self.group = group
        self.server = server
        self.port = port
    }

    /// Starts the echo server on a free loopback port.
    static func start(group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> RawTCPPingPong {
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LengthPrefixedDecoder()))
                    try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(LengthPrefixedEncoder()))
                    try channel.pipeline.syncOperations.addHandler(EchoHandler())
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        guard let port = server.localAddress?.port else {
            try? await server.close()
            throw RawTCPError.noLocalPort
        }
        return RawTCPPingPong(group: group, server: server, port: port)
    }

    /// Sends `count` messages of `size` bytes on a new connection, `level` at a time.
    func measure(level: Int, count: Int, size: Int) async throws -> LevelResult {
        let done = group.next().makePromise(of: PingPongRun.self)
        let payload = [UInt8](repeating: 0x5A, count: size)
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: group)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LengthPrefixedDecoder()))
                        try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(LengthPrefixedEncoder()))
                        try channel.pipeline.syncOperations.addHandler(
                            PingPongClientHandler(payload: payload, total: count, inFlight: level, done: done)
                        )
                    }
                }
                .connect(host: "127.0.0.1", port: port)
                .get()
        } catch {
            done.fail(error)
            throw error
        }
        do {
            let run = try await done.futureResult.get()
            try? await channel.close()
            return LevelResult(level: level, latencies: run.latencies, elapsed: run.elapsed)
        } catch {
            try? await channel.close()
            throw error
        }
    }

    /// Closes the echo server.
    func stop() async {
        try? await server.close()
    }
}

/// Why the raw baseline could not run.
enum RawTCPError: Error, CustomStringConvertible {
    case noLocalPort
    case connectionClosed(received: Int, expected: Int)
    case frameTooLarge(Int)

    var description: String {
        switch self {
        case .noLocalPort: "the raw TCP echo server has no local port"
        case .connectionClosed(let received, let expected): "the raw TCP connection closed after \(received) of \(expected) echoes"
        case .frameTooLarge(let size): "raw TCP frame of \(size) bytes is larger than allowed"
        }
    }
}

/// One client connection's results.
struct PingPongRun: Sendable {
    /// From the first request written to the last echo read.
    let elapsed: Duration
    /// One per request.
    let latencies: [Duration]
}

/// Frames: a 4-byte big-endian length, then that many bytes.
struct LengthPrefixedDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    /// Largest frame accepted (the benchmark's messages are far smaller).
    static let maximumFrameSize = 64 << 20

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return .needMoreData }
        guard Int(length) <= Self.maximumFrameSize else { throw RawTCPError.frameTooLarge(Int(length)) }
        guard buffer.readableBytes >= 4 + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 4)
        guard let frame = buffer.readSlice(length: Int(length)) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(frame))
        return .continue
    }
}

/// Writes a 4-byte big-endian length before each message.
struct LengthPrefixedEncoder: MessageToByteEncoder {
    typealias OutboundIn = ByteBuffer

    func encode(data: ByteBuffer, out: inout ByteBuffer) throws {
        out.writeInteger(UInt32(data.readableBytes))
        out.writeImmutableBuffer(data)
    }
}

/// Sends every message back as it came; flushes once per read burst.
final class EchoHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.write(wrapOutboundOut(unwrapInboundIn(data)), promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }
}

/// Keeps `inFlight` requests outstanding until `total` echoes arrived, then completes `done`.
/// Runs on its channel's event loop only.
final class PingPongClientHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let payload: [UInt8]
    private let total: Int
    private let inFlight: Int
    private let done: EventLoopPromise<PingPongRun>
    /// When each outstanding request was written, oldest at `oldest`.
    private var sentAt: [ContinuousClock.Instant] = []
    private var oldest = 0
    private var latencies: [Duration] = []
    private var start = ContinuousClock.now
    private var finished = false

    init(payload: [UInt8], total: Int, inFlight: Int, done: EventLoopPromise<PingPongRun>) {
        self.payload = payload
        self.total = total
        self.inFlight = max(1, inFlight)
        self.done = done
        latencies.reserveCapacity(total)
        sentAt.reserveCapacity(total)
    }

    func channelActive(context: ChannelHandlerContext) {
        start = .now
        for _ in 0..<min(inFlight, total) { sendRequest(context) }
        context.flush()
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !finished, oldest < sentAt.count else { return }
        let now = ContinuousClock.now
        latencies.append(now - sentAt[oldest])
        oldest += 1
        if latencies.count == total {
            finished = true
            done.succeed(PingPongRun(elapsed: now - start, latencies: latencies))
        } else if sentAt.count < total {
            sendRequest(context)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(RawTCPError.connectionClosed(received: latencies.count, expected: total))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(error)
        context.close(promise: nil)
    }

    private func fail(_ error: any Error) {
        guard !finished else { return }
        finished = true
        done.fail(error)
    }

    private func sendRequest(_ context: ChannelHandlerContext) {
        sentAt.append(.now)
        context.write(wrapOutboundOut(context.channel.allocator.buffer(bytes: payload)), promise: nil)
    }
}
