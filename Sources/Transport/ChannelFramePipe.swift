import NIOCore
import WireCodec

/// A ``FramePipe`` over a NIO channel whose pipeline frames bytes (a TCP connection set up by
/// ``LinkEstablishment/configure(_:limit:)``).
struct ChannelFramePipe: FramePipe {
    let asyncChannel: NIOAsyncChannel<Frame, Frame>
    let frameSizeLimit: FrameSizeLimit

    init(_ asyncChannel: NIOAsyncChannel<Frame, Frame>, frameSizeLimit: FrameSizeLimit) {
        self.asyncChannel = asyncChannel
        self.frameSizeLimit = frameSizeLimit
    }

    var remoteAddress: String? {
        asyncChannel.channel.remoteAddress.flatMap { address in address.ipAddress.map { "\($0):\(address.port ?? 0)" } }
    }

    var eventLoop: any EventLoop { asyncChannel.channel.eventLoop }

    var tcpChannel: (any Channel)? { asyncChannel.channel }

    func execute(
        _ body: (_ inbound: NIOAsyncChannelInboundStream<Frame>, _ outbound: NIOAsyncChannelOutboundWriter<Frame>) async throws -> Void
    ) async throws {
        try await asyncChannel.executeThenClose { inbound, outbound in
            try await body(inbound, outbound)
        }
    }

    func close() {
        asyncChannel.channel.close(promise: nil)
    }
}
