import Crypto
import NIOCore
import NIOPosix
import P2PCore
import Testing
import WireCodec
@testable import Transport

@Suite struct LinkTests {
    let serverIdentity = NodeIdentity.ephemeral()
    let clientIdentity = NodeIdentity.ephemeral()

    private func listen(secret: String = "s3cret", configure: (inout LinkConfiguration) -> Void = { _ in }) async throws -> (LinkListener, AsyncStream<any Error>) {
        var configuration = LinkConfiguration(identity: serverIdentity, secret: secret)
        configuration.handshakeTimeout = .seconds(30)  // the suite runs many tests at once on two cores
        configure(&configuration)
        let (failures, failureSink) = AsyncStream<any Error>.makeStream()
        let listener = try await LinkListener.bind(host: "127.0.0.1", port: 0, configuration: configuration, onFailure: { failureSink.yield($0) })
        return (listener, failures)
    }

    private func dial(_ listener: LinkListener, secret: String = "s3cret") async throws -> Link {
        var configuration = LinkConfiguration(identity: clientIdentity, secret: secret)
        configuration.handshakeTimeout = .seconds(30)
        return try await LinkDialer.connect(host: "127.0.0.1", port: listener.port, configuration: configuration)
    }

    @Test func framesFlowBothWaysInOrderAndPeersAreProven() async throws {
        let (listener, _) = try await listen()
        defer { listener.close() }
        let client = try await dial(listener)
        var accepted = listener.links.makeAsyncIterator()
        let server = try #require(await accepted.next())
        #expect(client.peer.id == serverIdentity.id)
        #expect(client.peer.publicKey == serverIdentity.publicKeyBytes)
        #expect(server.peer.id == clientIdentity.id)

        for i in 0..<500 { try client.send(type: 20, Array("ping \(i)".utf8)) }
        var received = 0
        for try await frame in server.inbound {
            #expect(frame.type == 20)
            #expect(frame.bytes == Array("ping \(received)".utf8))
            try server.send(type: 21, frame.bytes)
            received += 1
            if received == 500 { break }
        }
        var echoed = 0
        for try await frame in client.inbound {
            #expect(frame.bytes == Array("ping \(echoed)".utf8))
            echoed += 1
            if echoed == 500 { break }
        }
        #expect(echoed == 500)
        client.close()
        server.close()
    }

    @Test func aWrongSecretFailsOnBothSides() async throws {
        let (listener, failures) = try await listen(secret: "right")
        defer { listener.close() }
        await #expect(throws: TransportError.self) { _ = try await dial(listener, secret: "wrong") }
        var iterator = failures.makeAsyncIterator()
        let serverSide = await iterator.next()
        // The dialer may detect the wrong secret first and close: the listener then sees the
        // connection drop mid-handshake. Either way it is a typed failure and no link is made.
        switch serverSide as? TransportError {
        case .authenticationFailed?, .connectionLost?, .closed?:
            break
        default:
            Issue.record("expected a typed handshake failure on the listener, got \(String(describing: serverSide))")
        }
    }

    @Test func anOversizedFrameClosesTheLinkWithATypedError() async throws {
        let (listener, _) = try await listen { $0.maximumFrameSize = 1024 }
        defer { listener.close() }
        let client = try await dial(listener)
        var accepted = listener.links.makeAsyncIterator()
        let server = try #require(await accepted.next())
        try client.send(type: 30, [UInt8](repeating: 7, count: 4096))
        do {
            for try await _ in server.inbound { Issue.record("nothing should arrive") }
            Issue.record("the link should have failed")
        } catch {
            #expect(error as? WireError == .frameTooLarge(length: 4096 + 1 + 16 + 2, maximum: 1024))
        }
    }

    @Test func garbageAndSilentPeersNeverHurtTheListener() async throws {
        let (listener, failures) = try await listen { $0.handshakeTimeout = .seconds(3) }
        defer { listener.close() }
        var failureIterator = failures.makeAsyncIterator()

        let raw = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: listener.port).get()
        try await raw.writeAndFlush(ByteBuffer(bytes: [0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3])).get()
        #expect(await failureIterator.next() as? WireError == .frameTooLarge(length: 0xFFFF_FFFF, maximum: 1024))  // the handshake limit

        let silent = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: listener.port).get()
        #expect(await failureIterator.next() as? TransportError == .handshakeTimedOut)

        let client = try await dial(listener)
        #expect(client.peer.id == serverIdentity.id)
        client.close()
        try? await raw.close()
        try? await silent.close()
    }

    @Test func tamperedReplayedOrReorderedFramesFailToOpen() throws {
        let key = SymmetricKey(size: .bits256)
        var sender = FrameCipher(key: key)
        let first = try sender.seal([1, 2, 3])
        let second = try sender.seal([4, 5, 6])

        var receiver = FrameCipher(key: key)
        var tampered = first
        tampered[0] ^= 1
        #expect(throws: TransportError.decryptionFailed) { _ = try receiver.open(tampered) }

        var inOrder = FrameCipher(key: key)
        #expect(try inOrder.open(first) == [1, 2, 3])
        #expect(throws: TransportError.decryptionFailed) { _ = try inOrder.open(first) }  // replay

        var reordered = FrameCipher(key: key)
        #expect(throws: TransportError.decryptionFailed) { _ = try reordered.open(second) }
    }

    @Test func anUnreachableAddressIsATypedError() async throws {
        // Port 1 is privileged and never bound by these tests, so nothing answers there.
        do {
            _ = try await LinkDialer.connect(host: "127.0.0.1", port: 1, configuration: LinkConfiguration(identity: clientIdentity, secret: "s3cret"))
            Issue.record("dialling a closed port must fail")
        } catch {
            guard case .unreachable = error as? TransportError else {
                Issue.record("expected TransportError.unreachable, got \(error)")
                return
            }
        }
    }
}
