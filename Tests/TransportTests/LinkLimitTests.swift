import NIOCore
import P2PCore
import Testing
import WireCodec
@testable import Transport

@Suite struct LinkLimitTests {
    @Test func aLargeFrameIsRefusedBeforeTheHandshakeAndPassesAfterIt() async throws {
        let server = try await TestListener.bind()
        defer { server.listener.close() }

        // An unauthenticated peer announces 16 MiB: refused from the length prefix alone.
        let raw = try await server.rawConnection()
        var announcement = ByteBuffer()
        announcement.writeInteger(UInt32(16 << 20))
        announcement.writeBytes([Frame.protocolVersion, 1])
        try await raw.writeAndFlush(announcement).get()
        var failures = server.failures.makeAsyncIterator()
        #expect(await failures.next() as? WireError == .frameTooLarge(length: 16 << 20, maximum: 1024))
        try await withDeadline(.seconds(10)) { try await raw.closeFuture.get() }  // the listener hung up

        // Once authenticated, the full maximum applies.
        var accepted = server.listener.links.makeAsyncIterator()
        let client = try await server.dial()
        let serverSide = try #require(await accepted.next())
        let large = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        try client.send(type: 20, large)
        var frames = serverSide.inbound.makeAsyncIterator()
        #expect(try await frames.next()?.bytes == large)
        try serverSide.send(type: 21, large)
        var replies = client.inbound.makeAsyncIterator()
        #expect(try await replies.next()?.bytes == large)
        client.close()
        serverSide.close()
    }

    @Test(.timeLimit(.minutes(1))) func thePerHostHandshakeCapClosesTheExtraConnection() async throws {
        let server = try await TestListener.bind {
            $0.maximumPendingHandshakesPerHost = 2
            $0.handshakeTimeout = .seconds(60)
        }
        defer { server.listener.close() }
        var failures = server.failures.makeAsyncIterator()

        var connections: [any Channel] = []
        for _ in 0..<3 { connections.append(try await server.rawConnection()) }
        guard case .overloaded? = await failures.next() as? TransportError else {
            Issue.record("the third handshake from 127.0.0.1 must be refused as overloaded")
            return
        }
        // Which connection the listener took last depends on the event loops its children run
        // on: exactly one of the three is closed.
        let (closes, closed) = AsyncStream<Int>.makeStream()
        for (index, connection) in connections.enumerated() {
            connection.closeFuture.whenComplete { _ in closed.yield(index) }
        }
        let refused = try await withDeadline(.seconds(10), "the refused connection's close") {
            for await index in closes { return index }
            return -1
        }
        let kept = connections.indices.filter { $0 != refused }.map { connections[$0] }
        #expect(server.listener.admissions.counts.pending == 2)
        #expect(kept.count == 2 && kept.allSatisfy(\.isActive))

        // Once the pending handshakes end, the host may try again.
        for connection in kept { try await connection.close() }
        _ = await failures.next()
        _ = await failures.next()
        #expect(server.listener.admissions.counts.pending == 0)
        let client = try await withDeadline(.seconds(10), "the dial after the cap") { try await server.dial() }
        var accepted = server.listener.links.makeAsyncIterator()
        let serverSide = try #require(await accepted.next())
        #expect(server.listener.admissions.counts.links == 1)
        client.close()
        serverSide.close()
    }

    @Test func thePerHostLinkCapRefusesTheExtraLinkUntilOneCloses() async throws {
        let server = try await TestListener.bind { $0.maximumLinksPerHost = 1 }
        defer { server.listener.close() }
        var failures = server.failures.makeAsyncIterator()
        var accepted = server.listener.links.makeAsyncIterator()

        let first = try await server.dial()
        let firstSide = try #require(await accepted.next())
        // The second authenticates, but the listener closes it rather than count it.
        if let second = try? await server.dial() {
            do {
                for try await _ in second.inbound { Issue.record("a refused link carries nothing") }
            } catch {}  // ends, cleanly or not
        }
        guard case .overloaded? = await failures.next() as? TransportError else {
            Issue.record("the second link from 127.0.0.1 must be refused as overloaded")
            return
        }
        #expect(server.listener.admissions.counts.links == 1)

        // A closed link is uncounted: the next one gets in.
        first.close()
        do { for try await _ in firstSide.inbound {} } catch {}
        #expect(server.listener.admissions.counts.links == 0)
        let third = try await server.dial()
        let thirdSide = try #require(await accepted.next())
        #expect(server.listener.admissions.counts.links == 1)
        third.close()
        thirdSide.close()
    }

    /// Connections that arrive while the listener closes are dropped by NIO unconsumed: they must
    /// be closed, not trap the process (an `NIOAsyncChannel` dropped unfinished does).
    @Test(.timeLimit(.minutes(1))) func closingTheListenerWhileConnectionsArriveClosesThem() async throws {
        for _ in 0..<20 {
            let server = try await TestListener.bind()
            let dials = (0..<16).map { _ in Task { try? await server.rawConnection() } }
            server.listener.close()
            for dial in dials {
                guard let connection = await dial.value else { continue }
                // Accepted or not, the listener's side ends: the connection closes.
                try await withDeadline(.seconds(10), "a connection accepted while closing") { try? await connection.closeFuture.get() }
            }
        }
    }

    @Test(.timeLimit(.minutes(1))) func atTheHandshakeCapTheListenerQueuesRatherThanCloses() async throws {
        let server = try await TestListener.bind {
            $0.maximumPendingHandshakes = 1
            $0.handshakeTimeout = .seconds(60)
        }
        defer { server.listener.close() }
        // A silent connection holds the only handshake slot.
        let silent = try await server.rawConnection()
        let dial = Task { try await server.dial() }
        var failures = server.failures.makeAsyncIterator()
        // The dial waits in the listen queue, unrefused, until the silent connection ends.
        try await silent.close()
        #expect(await failures.next() != nil)  // the silent one's failed handshake, nothing else
        var accepted = server.listener.links.makeAsyncIterator()
        let client = try await withDeadline(.seconds(20), "the queued dial") { try await dial.value }
        let serverSide = try #require(await accepted.next())
        #expect(server.listener.admissions.counts == (pending: 0, links: 1))
        client.close()
        serverSide.close()
    }

    @Test(.timeLimit(.minutes(1))) func admissionsCountHandshakesAndLinksInAllAndPerHost() async throws {
        var configuration = LinkConfiguration(identity: .ephemeral(), secret: "s3cret")
        configuration.maximumPendingHandshakes = 3
        configuration.maximumPendingHandshakesPerHost = 2
        configuration.maximumLinks = 2
        configuration.maximumLinksPerHost = 1
        let admissions = ListenerAdmissions(configuration: configuration)
        func expectOverloaded(_ body: () async throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) async {
            do {
                try await body()
                Issue.record("expected overloaded", sourceLocation: sourceLocation)
            } catch {
                guard case .overloaded? = error as? TransportError else {
                    Issue.record("expected overloaded, got \(error)", sourceLocation: sourceLocation)
                    return
                }
            }
        }

        try await admissions.waitForHandshakeSlot(from: "10.0.0.1")
        try await admissions.waitForHandshakeSlot(from: "10.0.0.1")
        await expectOverloaded { try await admissions.waitForHandshakeSlot(from: "10.0.0.1") }  // per host: at once
        try await admissions.waitForHandshakeSlot(from: "10.0.0.2")
        // In all: the next one waits until a handshake ends, and is then counted.
        let waiting = Task { try await admissions.waitForHandshakeSlot(from: "10.0.0.3") }
        while !admissions.hasWaiter { await Task.yield() }
        #expect(admissions.counts == (pending: 3, links: 0))
        admissions.end(from: "10.0.0.2", established: false)
        try await waiting.value
        #expect(admissions.counts == (pending: 3, links: 0))

        try admissions.establish(from: "10.0.0.1")
        await expectOverloaded { try admissions.establish(from: "10.0.0.1") }  // per host; stays pending
        try admissions.establish(from: "10.0.0.3")
        try await admissions.waitForHandshakeSlot(from: "10.0.0.2")
        await expectOverloaded { try admissions.establish(from: "10.0.0.2") }  // in all
        #expect(admissions.counts == (pending: 2, links: 2))

        admissions.end(from: "10.0.0.1", established: true)
        try admissions.establish(from: "10.0.0.2")
        admissions.end(from: "10.0.0.1", established: false)
        #expect(admissions.counts == (pending: 0, links: 2))
        admissions.end(from: "10.0.0.2", established: true)
        admissions.end(from: "10.0.0.3", established: true)
        #expect(admissions.counts == (pending: 0, links: 0))
    }
}
