import P2PCore
import Testing
import WireCodec
@testable import Transport

@Suite struct LinkBackpressureTests {
    private static func chunk(_ index: Int, size: Int = 64 << 10) -> [UInt8] {
        [UInt8(truncatingIfNeeded: index), UInt8(truncatingIfNeeded: index >> 8)] + [UInt8](repeating: 0xA5, count: size - 2)
    }

    @Test func aPeerThatNeverReadsOverloadsTheLinkWhileTheQueueStaysUnderItsCap() async throws {
        let server = try await TestListener.bind()
        defer { server.listener.close() }
        var accepted = server.listener.links.makeAsyncIterator()
        let cap = 1 << 20
        let client = try await server.dial { $0.maximumQueuedBytes = cap }
        let neverRead = try #require(await accepted.next())

        let failure = try await withDeadline(.seconds(60)) { () -> TransportError? in
            for index in 0..<100_000 {
                do {
                    try client.send(type: 20, Self.chunk(index))
                } catch {
                    return error as? TransportError
                }
                #expect(client.queuedBytes <= cap)
                await Task.yield()
            }
            return nil
        }
        guard case .overloaded? = failure else {
            Issue.record("expected TransportError.overloaded, got \(String(describing: failure))")
            return
        }
        #expect(client.queuedBytes <= cap)
        #expect(throws: TransportError.self) { try client.send(type: 20, [1]) }
        do {
            for try await _ in client.inbound {}
            Issue.record("the overloaded link must fail")
        } catch {
            guard case .overloaded? = error as? TransportError else {
                Issue.record("expected the link to fail with overloaded, got \(error)")
                return
            }
        }
        neverRead.close()
    }

    @Test func aConsumerThatStopsConsumingStallsTheSenderUntilItConsumesAgain() async throws {
        let server = try await TestListener.bind { $0.maximumInboundFrames = 8 }
        defer { server.listener.close() }
        var accepted = server.listener.links.makeAsyncIterator()
        let client = try await server.dial { $0.maximumQueuedBytes = 1 << 30 }
        let receiver = try #require(await accepted.next())

        // 128 MiB: more than the socket buffers and NIO's can hold.
        let count = 2048
        for index in 0..<count { try client.send(type: 20, Self.chunk(index)) }

        // Nobody consumes: the link buffers its 8 frames, stops reading, and the sender stalls
        // with most of its queue still queued.
        try await Eventually.until("the receiver's buffer to fill") { receiver.inbound.bufferedCount == 8 }
        let stalled = try await Eventually.settled("the sender's queue to stop draining") { client.queuedBytes }
        #expect(stalled > 0)
        #expect(receiver.inbound.bufferedCount == 8)

        // Consuming resumes the flow: everything arrives, in order, and the queue drains.
        var frames = receiver.inbound.makeAsyncIterator()
        for index in 0..<count {
            let frame = try #require(try await frames.next())
            #expect(frame.bytes.count == 64 << 10)
            #expect(Array(frame.bytes.prefix(2)) == Array(Self.chunk(index, size: 2)), "frame \(index)")
            #expect(receiver.inbound.bufferedCount <= 8)
        }
        try await Eventually.until("the sender's queue to drain") { client.queuedBytes == 0 }
        client.close()
        receiver.close()
    }

    @Test func theInboundBufferHoldsItsCapacityAndHandsFramesOverInOrder() async throws {
        let buffer = InboundFrameBuffer(capacity: 2)
        for index in 0..<2 {
            #expect(await buffer.waitForRoom())
            buffer.push(Frame(type: 20, bytes: [UInt8(index)]))
        }
        // Full: the reader waits until the consumer takes a frame.
        let reader = Task { await buffer.waitForRoom() }
        try await Eventually.until("the reader to wait") { buffer.readerIsWaiting }
        #expect(try await buffer.next()?.bytes == [0])
        #expect(await reader.value)
        buffer.push(Frame(type: 20, bytes: [2]))

        // A failure comes after the buffered frames, once; the reader stops.
        buffer.finish(throwing: TransportError.overloaded("test"))
        #expect(await buffer.waitForRoom() == false)
        #expect(try await buffer.next()?.bytes == [1])
        #expect(try await buffer.next()?.bytes == [2])
        await #expect(throws: TransportError.overloaded("test")) { _ = try await buffer.next() }
        #expect(try await buffer.next() == nil)

        // A consumer cancelled while it waits gets nil.
        let empty = InboundFrameBuffer(capacity: 2)
        let consumer = Task { try await empty.next() }
        consumer.cancel()
        #expect(try await consumer.value == nil)
        // A waiting consumer gets the next frame directly.
        let waiting = Task { try await empty.next() }
        empty.push(Frame(type: 21, bytes: [9]))
        #expect(try await waiting.value?.bytes == [9])
    }
}
