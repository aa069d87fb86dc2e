import NIOCore

/// The only handler of a ``UDPEndpoint``'s channel: hands every datagram to the endpoint, and
/// closes the endpoint if the socket goes away.
final class UDPDatagramHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let endpoint: UDPEndpoint

    init(endpoint: UDPEndpoint) {
        self.endpoint = endpoint
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = Self.unwrapInboundIn(data)
        endpoint.receive(Array(envelope.data.readableBytesView), from: envelope.remoteAddress)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Recoverable socket errors (e.g. ECONNREFUSED after an ICMP error) do not concern anyone.
    }

    func channelInactive(context: ChannelHandlerContext) {
        endpoint.close()
        context.fireChannelInactive()
    }
}

@available(*, unavailable)
extension UDPDatagramHandler: Sendable {}
