import NIOCore
import Synchronization
import P2PCore
import Testing
import WireCodec
@testable import Transport

/// What a TCP link does with the frames after the handshake (opened on the event loop by
/// ``SealedFrameOpener``), against a dialer the test speaks for.
@Suite struct SealedFrameOpenerTests {
    /// Runs a client's side of the handshake on a raw connection and then writes, in one go,
    /// what `afterwards` makes with the session's sending cipher; returns the listener's link.
    private func handshakeThenSend(
        _ server: TestListener, _ afterwards: @escaping @Sendable (inout FrameCipher) throws -> [Frame]
    ) async throws -> Link {
        var accepted = server.listener.links.makeAsyncIterator()
        let raw = try await server.rawFramedConnection()
        let configuration = LinkConfiguration(identity: .ephemeral(), secret: "s3cret")
        let handshake = try Handshake(dialerDeclaring: .client, configuration: configuration)
        // Not awaited: it ends when the listener closes the connection (each test breaks it).
        Task {
            try await raw.executeThenClose { inbound, outbound in
                var frames = inbound.makeAsyncIterator()
                try await outbound.write(Frame(type: Handshake.helloType, bytes: handshake.hello.encoded()))
                let hello = try Handshake.Hello.decode(try #require(try await frames.next()).bytes)
                try await outbound.write(Frame(type: Handshake.authType, bytes: try handshake.authentication(peer: hello)))
                let authentication = try #require(try await frames.next())
                let session = try handshake.verify(peer: hello, authentication: authentication.bytes)
                var cipher = FrameCipher(key: session.sendKey)
                try await outbound.write(contentsOf: try afterwards(&cipher))
                while try await frames.next() != nil {}
            }
        }
        return try #require(await accepted.next())
    }

    private static func sealed(_ cipher: inout FrameCipher, type: UInt8, _ bytes: [UInt8]) throws -> Frame {
        Frame(type: LinkEstablishment.sealedType, payload: try cipher.seal(type: type, ByteBuffer(bytes: bytes)))
    }

    @Test func sealedFramesArriveInOrderAndAnUnsealedOneAfterThemBreaksTheLink() async throws {
        let server = try await TestListener.bind()
        defer { server.listener.close() }
        let link = try await handshakeThenSend(server) { cipher in
            [try Self.sealed(&cipher, type: 20, [1]), try Self.sealed(&cipher, type: 21, [2, 2]), Frame(type: 20, bytes: [3])]
        }
        var frames = link.inbound.makeAsyncIterator()
        #expect(try await frames.next() == Frame(type: 20, bytes: [1]))
        #expect(try await frames.next() == Frame(type: 21, bytes: [2, 2]))
        await #expect(throws: TransportError.protocolViolation("unsealed frame of type 20")) { _ = try await frames.next() }
        #expect(try await frames.next() == nil)
    }

    @Test func aTamperedFrameBreaksTheLinkAndNothingAfterItIsDelivered() async throws {
        let server = try await TestListener.bind()
        defer { server.listener.close() }
        let link = try await handshakeThenSend(server) { cipher in
            let good = try Self.sealed(&cipher, type: 20, [1])
            var tampered = try Self.sealed(&cipher, type: 20, [2]).bytes
            tampered[0] ^= 1
            return [good, Frame(type: LinkEstablishment.sealedType, bytes: tampered), try Self.sealed(&cipher, type: 20, [3])]
        }
        var frames = link.inbound.makeAsyncIterator()
        #expect(try await frames.next() == Frame(type: 20, bytes: [1]))
        await #expect(throws: TransportError.decryptionFailed) { _ = try await frames.next() }
        #expect(try await frames.next() == nil)
    }

    @Test func aSealedFrameBeforeTheAuthenticationFailsTheHandshake() async throws {
        let server = try await TestListener.bind()
        defer { server.listener.close() }
        var failures = server.failures.makeAsyncIterator()
        let raw = try await server.rawFramedConnection()
        let configuration = LinkConfiguration(identity: .ephemeral(), secret: "s3cret")
        let handshake = try Handshake(dialerDeclaring: .client, configuration: configuration)
        try await raw.executeThenClose { inbound, outbound in
            var frames = inbound.makeAsyncIterator()
            try await outbound.write(Frame(type: Handshake.helloType, bytes: handshake.hello.encoded()))
            _ = try await frames.next()
            try await outbound.write(Frame(type: LinkEstablishment.sealedType, bytes: [UInt8](repeating: 7, count: 40)))
            do { while try await frames.next() != nil {} } catch {}  // the listener closes
        }
        guard case .protocolViolation(let why)? = await failures.next() as? TransportError else {
            Issue.record("expected a protocol violation")
            return
        }
        #expect(why.contains("expected authentication"), "\(why)")
    }
}

/// Links over TCP hold their event-loop writer and reader, which hold the link: the references
/// must be let go when the link closes, or every closed connection stays in memory.
@Suite struct ClosedLinkMemoryTests {
    private struct WeakLink: Sendable {
        weak var link: Link?
    }

    @Test func bothEndsOfAClosedLinkAreFreedWithFramesStillBuffered() async throws {
        let server = try await TestListener.bind { $0.maximumInboundFrames = 2 }
        defer { server.listener.close() }
        let references = Mutex<[WeakLink]>([])
        do {
            var accepted = server.listener.links.makeAsyncIterator()
            let client = try await server.dial()
            let serverSide = try #require(await accepted.next())
            // More than the receiver buffers: its reads are withheld, a room callback waits.
            for index in 0..<8 { try client.send(type: 20, [UInt8(index)]) }
            try await Eventually.until("the receiver's buffer to fill") { serverSide.inbound.bufferedCount == 2 }
            references.withLock { $0 = [WeakLink(link: client), WeakLink(link: serverSide)] }
            client.close()
            serverSide.close()
        }
        try await Eventually.until("both links to be freed") { references.withLock { $0.allSatisfy { $0.link == nil } } }
    }
}
