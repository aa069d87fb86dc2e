import Synchronization
import Testing
import WireCodec
@testable import Transport

@Suite struct LinkInterceptTests {
    @Test func framesTheInterceptorTakesNeverReachTheIteratorAndTheRestKeepTheirOrder() async throws {
        let server = try await TestListener.bind()
        defer { server.listener.close() }
        var accepted = server.listener.links.makeAsyncIterator()
        let client = try await server.dial()
        let receiver = try #require(await accepted.next())
        let taken = Mutex<[UInt8]>([])
        // Type 21 is taken on the event loop; type 20 goes to the iterator.
        receiver.inbound.intercept { frame in
            guard frame.type == 21 else { return false }
            taken.withLock { $0.append(frame.bytes[0]) }
            return true
        }
        for index in 0..<40 { try client.send(type: index % 2 == 0 ? 20 : 21, [UInt8(index)]) }
        try client.send(type: 20, [255])

        var iterated: [UInt8] = []
        for try await frame in receiver.inbound {
            #expect(frame.type == 20)
            if frame.bytes[0] == 255 { break }
            iterated.append(frame.bytes[0])
        }
        client.close()
        let even: [UInt8] = stride(from: 0, to: 40, by: 2).map { UInt8($0) }
        let odd: [UInt8] = stride(from: 1, to: 40, by: 2).map { UInt8($0) }
        #expect(iterated == even)
        #expect(taken.withLock { $0 } == odd)
    }

    @Test func anEndedBufferLetsGoOfItsInterceptor() {
        final class Owner: Sendable {}
        let buffer = InboundFrameBuffer(capacity: 4)
        weak var weakOwner: Owner?
        do {
            let owner = Owner()
            weakOwner = owner
            buffer.intercept { _ in _ = owner; return true }
        }
        #expect(weakOwner != nil)
        buffer.finish()
        #expect(weakOwner == nil)
    }
}
