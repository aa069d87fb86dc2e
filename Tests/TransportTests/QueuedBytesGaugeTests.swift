import NIOCore
import P2PCore
import Testing
import TestSupport
import WireCodec
@testable import Transport

@Suite struct QueuedBytesGaugeTests {
    /// The gauge counts what the listener's links to clients queue, until written or dropped
    /// with the link: it must come back to zero, or a server would pause its pushes for good.
    @Test func countsQueuedBytesUntilWrittenOrDropped() async throws {
        let gauge = QueuedBytesGauge()
        let server = try await TestListener.bind { $0.clientQueuedBytes = gauge }
        defer { server.listener.close() }
        var accepted = server.listener.links.makeAsyncIterator()
        let client = try await server.dial()
        let serverSide = try #require(await accepted.next())

        // Written: the client reads everything, and the gauge empties.
        let frame = [UInt8](repeating: 7, count: 64 << 10)
        for _ in 0..<32 { try serverSide.send(type: 20, frame) }
        var inbound = client.inbound.makeAsyncIterator()
        for _ in 0..<32 { #expect(try await inbound.next()?.bytes == frame) }
        #expect(try await eventually(timeout: .seconds(10)) { gauge.value == 0 }, "\(gauge.value) bytes still counted")

        // Dropped: the client stops reading, the server's link closes with frames queued.
        for _ in 0..<200 { try serverSide.send(type: 20, frame) }
        #expect(gauge.value > 0)
        serverSide.close()
        #expect(try await eventually(timeout: .seconds(10)) { gauge.value == 0 }, "\(gauge.value) bytes still counted after the close")
        client.close()
    }

    /// Links to servers do not count: the gauge bounds what clients make a server hold.
    @Test func linksToServersDoNotCount() async throws {
        let gauge = QueuedBytesGauge()
        let server = try await TestListener.bind {
            $0.clientQueuedBytes = gauge
            $0.role = .server
            $0.serverSecret = "server-s3cret"
            $0.acceptedRoles = [.client, .server]
        }
        defer { server.listener.close() }
        var accepted = server.listener.links.makeAsyncIterator()
        let peer = try await server.dial(as: .server) { $0.serverSecret = "server-s3cret" }
        let serverSide = try #require(await accepted.next())
        for _ in 0..<64 { try serverSide.send(type: 20, [UInt8](repeating: 1, count: 16 << 10)) }
        #expect(gauge.value == 0)
        peer.close()
        serverSide.close()
    }
}
