import NIOCore
import NIOPosix
import WireCodec

/// A raw TCP connection to a server, held as a hostile client holds it: what the server sends
/// is split into frames (so it can be inspected), what goes out is arbitrary bytes.
enum RawConnection {
    /// Connects to `host:port`, from `source` (a loopback address such as `127.77.1.1`) if given.
    static func open(host: String, port: Int, from source: String? = nil) async throws -> NIOAsyncChannel<Frame, ByteBuffer> {
        try await bootstrap(from: source).connect(host: host, port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                // Generous: the attacker wants to see whatever the server sends, however large.
                try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder(maximumFrameSize: 64 << 20)))
                return try NIOAsyncChannel<Frame, ByteBuffer>(wrappingChannelSynchronously: channel)
            }
        }
    }

    /// A connection that sends nothing and discards what it receives (idle-connection floods).
    static func openIdle(host: String, port: Int, from source: String? = nil) async throws -> any Channel {
        try await bootstrap(from: source).connect(host: host, port: port).get()
    }

    private static func bootstrap(from source: String?) throws -> ClientBootstrap {
        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connectTimeout(.seconds(5))
        guard let source else { return bootstrap }
        return bootstrap.bind(to: try SocketAddress(ipAddress: source, port: 0))
    }

    /// `frame` as it goes on the wire (length prefix, version, type, payload).
    static func wire(_ frame: Frame) throws -> ByteBuffer {
        var buffer = ByteBuffer()
        try FrameEncoder().encode(data: frame, out: &buffer)
        return buffer
    }

    /// A length prefix announcing `length` bytes, then the protocol version and `type` (a frame
    /// header whose body may never come).
    static func header(announcing length: UInt32, type: UInt8, version: UInt8 = Frame.protocolVersion) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(length)
        buffer.writeInteger(version)
        buffer.writeInteger(type)
        return buffer
    }

    /// What the server sent until it closed the connection or `timeout` passed.
    struct Received {
        var frames: [Frame]
        /// The server closed (or reset) the connection; `false` if the timeout closed it.
        var closedByServer: Bool
        /// The connection ended with an error (a reset, or a frame the decoder refused).
        var error: (any Error)?
    }

    /// Reads `inbound` until the connection closes or `timeout` passes (then closes it).
    static func receive(
        _ inbound: NIOAsyncChannelInboundStream<Frame>, on channel: any Channel, timeout: Duration, stopAfter limit: Int = .max
    ) async -> Received {
        let watchdog = Watchdog(after: timeout) { channel.close(promise: nil) }
        defer { watchdog.cancel() }
        var received = Received(frames: [], closedByServer: false, error: nil)
        do {
            for try await frame in inbound {
                received.frames.append(frame)
                if received.frames.count >= limit { return received }
            }
        } catch {
            received.error = error
        }
        received.closedByServer = !watchdog.fired
        return received
    }
}
