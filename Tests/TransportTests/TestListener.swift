import NIOCore
import NIOPosix
import P2PCore
import WireCodec
@testable import Transport

/// A listener and dialers on 127.0.0.1 for the link tests.
struct TestListener {
    let listener: LinkListener
    /// Every error the listener reported (failed handshakes, refused connections).
    let failures: AsyncStream<any Error>

    static func bind(identity: NodeIdentity = .ephemeral(), configure: (inout LinkConfiguration) -> Void = { _ in }) async throws -> TestListener {
        var configuration = LinkConfiguration(identity: identity, secret: "s3cret")
        // Generous: the suite runs many tests at once on two cores (tests of timeouts set their own).
        configuration.handshakeTimeout = .seconds(30)
        configure(&configuration)
        let (failures, sink) = AsyncStream<any Error>.makeStream()
        let listener = try await LinkListener.bind(host: "127.0.0.1", port: 0, configuration: configuration, onFailure: { sink.yield($0) })
        return TestListener(listener: listener, failures: failures)
    }

    var port: Int { listener.port }

    /// Dials the listener as `role` with the cluster secret "s3cret" and whatever `configure` adds.
    func dial(
        as role: LinkRole = .client, identity: NodeIdentity = .ephemeral(), configure: (inout LinkConfiguration) -> Void = { _ in }
    ) async throws -> Link {
        var configuration = LinkConfiguration(identity: identity, secret: "s3cret")
        configuration.handshakeTimeout = .seconds(30)
        configure(&configuration)
        return try await LinkDialer.connect(host: "127.0.0.1", port: port, role: role, configuration: configuration)
    }

    /// A TCP connection that frames bytes but runs no handshake: the test speaks for the dialer.
    func rawFramedConnection() async throws -> NIOAsyncChannel<Frame, Frame> {
        try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder()))
                try channel.pipeline.syncOperations.addHandler(FrameWriter())
                return try NIOAsyncChannel<Frame, Frame>(wrappingChannelSynchronously: channel)
            }
        }
    }

    /// A TCP connection with nothing on it.
    func rawConnection() async throws -> any Channel {
        try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port).get()
    }
}
