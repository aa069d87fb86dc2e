import NIOCore
import NIOPosix
import P2PCore
import Synchronization
import Testing
import TestSupport
import WireCodec
@testable import Transport

@Suite struct UDPEndpointTests {
    let serverIdentity = NodeIdentity.ephemeral()
    let aliceIdentity = NodeIdentity.ephemeral()
    let bobIdentity = NodeIdentity.ephemeral()

    private func endpoint(
        _ identity: NodeIdentity, secret: String = "s3cret", group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        configure: (inout LinkConfiguration) -> Void = { _ in }
    ) async throws -> UDPEndpoint {
        var configuration = LinkConfiguration(identity: identity, secret: secret)
        configure(&configuration)
        return try await UDPEndpoint.bind(host: "127.0.0.1", port: 0, configuration: configuration, group: group)
    }

    /// A port nothing listens on: bound, then released.
    private func deadPort() async throws -> Int {
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(channel.localAddress?.port)
        try await channel.close()
        return port
    }

    /// Alice dials, Bob listens, on conversation `conversation`.
    private func tunnelPair(
        _ alice: UDPEndpoint, _ bob: UDPEndpoint, conversation: UInt32 = 7
    ) async throws -> (alice: Link, bob: Link) {
        async let aliceLink = alice.tunnel(to: "127.0.0.1:\(bob.localPort)", conversation: conversation, role: .dialer, timeout: .seconds(10))
        async let bobLink = bob.tunnel(to: "127.0.0.1:\(alice.localPort)", conversation: conversation, role: .listener, timeout: .seconds(10))
        return try await (aliceLink, bobLink)
    }

    // MARK: Observation

    @Test func observeReturnsTheSourceAddressAndTheServerSeesTheClient() async throws {
        let server = try await endpoint(serverIdentity)
        let client = try await endpoint(aliceIdentity)
        defer {
            server.close()
            client.close()
        }
        let address = try await client.observe(server: "127.0.0.1:\(server.localPort)", timeout: .seconds(20))
        #expect(address == "127.0.0.1:\(client.localPort)")
        var observations = server.observations.makeAsyncIterator()
        let observation = try #require(await observations.next())
        #expect(observation == UDPObservation(client: aliceIdentity.id, publicKey: aliceIdentity.publicKeyBytes, address: address))
    }

    @Test func anObserveWithTheWrongSecretIsDropped() async throws {
        let server = try await endpoint(serverIdentity, secret: "right")
        let stranger = try await endpoint(aliceIdentity, secret: "wrong")
        let member = try await endpoint(bobIdentity, secret: "right")
        defer {
            stranger.close()
            member.close()
        }
        await #expect(throws: TransportError.self) {
            _ = try await stranger.observe(server: "127.0.0.1:\(server.localPort)", timeout: .milliseconds(400))
        }
        // The server is alive and answers members; only the member's requests were observed.
        _ = try await member.observe(server: "127.0.0.1:\(server.localPort)", timeout: .seconds(20))
        server.close()
        var observed: [NodeID] = []
        for await observation in server.observations { observed.append(observation.client) }
        #expect(!observed.isEmpty)
        #expect(observed.allSatisfy { $0 == bobIdentity.id })
    }

    @Test func aForgedObserveIsDroppedEvenOnceTheClientWasVerifiedFromItsOwnAddress() async throws {
        let server = try await endpoint(serverIdentity)
        let alice = try await endpoint(aliceIdentity)
        let mallory = try await endpoint(bobIdentity)
        defer {
            alice.close()
            mallory.close()
        }
        let serverAddress = "127.0.0.1:\(server.localPort)"
        _ = try await alice.observe(server: serverAddress, timeout: .seconds(20))
        // Alice's id and key with the cluster secret, but signed by Bob, from Bob's socket.
        let forged = try UDPObserveRequest(
            identity: aliceIdentity, nonce: UDPEndpoint.randomBytes(UDPObserveRequest.nonceSize), timestamp: UDPEndpoint.wallClockMilliseconds()
        )
            .encoded(signedBy: bobIdentity, authenticator: mallory.authenticator)
        mallory.send(forged, to: try SocketAddress(ipAddress: "127.0.0.1", port: server.localPort))
        // Bob's own request follows on the same socket, so the forged one was handled before it is answered.
        _ = try await mallory.observe(server: serverAddress, timeout: .seconds(20))
        // Alice again, from her verified address: answered (without a second signature check).
        _ = try await alice.observe(server: serverAddress, timeout: .seconds(20))
        server.close()
        var observed: [UDPObservation] = []
        for await observation in server.observations { observed.append(observation) }
        let aliceAddress = "127.0.0.1:\(alice.localPort)"
        // At least her two observes (a slow machine may have retransmitted one), and never the
        // forged request's address.
        let aliceObserved = observed.filter { $0.client == aliceIdentity.id }.map(\.address)
        #expect(aliceObserved.count >= 2)
        #expect(aliceObserved.allSatisfy { $0 == aliceAddress }, "\(aliceObserved)")
        #expect(observed.filter { $0.client == bobIdentity.id }.map(\.address) == ["127.0.0.1:\(mallory.localPort)"])
    }

    @Test func anObserveWithNoServerTimesOutAsUnreachable() async throws {
        let client = try await endpoint(aliceIdentity)
        defer { client.close() }
        let port = try await deadPort()
        await #expect(throws: TransportError.self) {
            _ = try await client.observe(server: "127.0.0.1:\(port)", timeout: .milliseconds(300))
        }
    }

    // MARK: Hole punching

    @Test func punchingFindsTheLiveCandidate() async throws {
        let alice = try await endpoint(aliceIdentity)
        let bob = try await endpoint(bobIdentity)
        defer {
            alice.close()
            bob.close()
        }
        let dead = try await deadPort()
        let token = (0..<16).map { _ in UInt8.random(in: 0...255) }
        // 192.0.2.1 (TEST-NET-1) cannot even be sent to from a loopback socket: it must be
        // skipped, not take the socket down.
        async let aliceFound = alice.punch(
            token: token, candidates: ["127.0.0.1:\(dead)", "192.0.2.1:9", "127.0.0.1:\(bob.localPort)"], timeout: .seconds(20)
        )
        async let bobFound = bob.punch(token: token, candidates: ["127.0.0.1:\(alice.localPort)", "127.0.0.1:\(dead)"], timeout: .seconds(20))
        let (fromAlice, fromBob) = try await (aliceFound, bobFound)
        #expect(fromAlice == "127.0.0.1:\(bob.localPort)")
        #expect(fromBob == "127.0.0.1:\(alice.localPort)")
    }

    @Test func punchingWithADifferentTokenFails() async throws {
        let alice = try await endpoint(aliceIdentity)
        let bob = try await endpoint(bobIdentity)
        defer {
            alice.close()
            bob.close()
        }
        async let aliceFailure = Self.failure {
            try await alice.punch(token: Array(repeating: 1, count: 16), candidates: ["127.0.0.1:\(bob.localPort)"], timeout: .milliseconds(400))
        }
        async let bobFailure = Self.failure {
            try await bob.punch(token: Array(repeating: 2, count: 16), candidates: ["127.0.0.1:\(alice.localPort)"], timeout: .milliseconds(400))
        }
        let failures = await [aliceFailure, bobFailure]
        for failure in failures {
            guard case .unreachable? = failure else {
                Issue.record("expected unreachable, got \(String(describing: failure))")
                continue
            }
        }
    }

    /// The transport error `body` threw; nil if it succeeded (a link it returned is closed).
    private static func failure<T>(of body: () async throws -> T) async -> TransportError? {
        do {
            let result = try await body()
            (result as? Link)?.close()
            return nil
        } catch {
            return error as? TransportError
        }
    }

    // MARK: Tunnels

    @Test func aTunnelCarriesThousandsOfFramesBothWaysInOrder() async throws {
        // The frames are sent in one burst, more than the default send queue holds.
        let alice = try await endpoint(aliceIdentity) { $0.maximumQueuedBytes = 256 << 20 }
        let bob = try await endpoint(bobIdentity) { $0.maximumQueuedBytes = 256 << 20 }
        defer {
            alice.close()
            bob.close()
        }
        let (aliceLink, bobLink) = try await tunnelPair(alice, bob)
        #expect(aliceLink.peer.id == bobIdentity.id)
        #expect(aliceLink.peer.publicKey == bobIdentity.publicKeyBytes)
        #expect(bobLink.peer.id == aliceIdentity.id)
        #expect(aliceLink.peer.remoteAddress == "127.0.0.1:\(bob.localPort)")

        let count = 2000
        try await withDeadline(.seconds(240)) {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (sender, receiver, seed) in [(aliceLink, bobLink, UInt64(1)), (bobLink, aliceLink, UInt64(2))] {
                    group.addTask {
                        for index in 0..<count { try sender.send(type: 20, Self.payload(index, seed: seed)) }
                    }
                    group.addTask {
                        var received = 0
                        for try await frame in receiver.inbound {
                            #expect(frame.type == 20)
                            #expect(frame.bytes == Self.payload(received, seed: seed), "frame \(received)")
                            received += 1
                            if received == count { break }
                        }
                        #expect(received == count)
                    }
                }
                try await group.waitForAll()
            }
        }
        aliceLink.close()
        bobLink.close()
    }

    /// Frame `index` of a stream: 1 B…64 KiB of pseudo-random bytes, reproducible from the seed.
    private static func payload(_ index: Int, seed: UInt64) -> [UInt8] {
        var generator = SplitMix64(seed: seed << 32 | UInt64(index))
        return generator.bytes(Int.random(in: 1...65_536, using: &generator))
    }

    @Test func aOneMebibyteFrameCrosses() async throws {
        let alice = try await endpoint(aliceIdentity)
        let bob = try await endpoint(bobIdentity)
        defer {
            alice.close()
            bob.close()
        }
        let (aliceLink, bobLink) = try await tunnelPair(alice, bob)
        var generator = SplitMix64(seed: 42)
        let big = generator.bytes(1 << 20)
        try aliceLink.send(type: 30, big)
        try bobLink.send(type: 31, [1, 2, 3])
        let received = try await withDeadline(.seconds(60)) {
            var frames = bobLink.inbound.makeAsyncIterator()
            return try await frames.next()
        }
        #expect(received?.type == 30)
        #expect(received?.bytes == big)
        var frames = aliceLink.inbound.makeAsyncIterator()
        #expect(try await frames.next()?.bytes == [1, 2, 3])
    }

    @Test func closingAnEndpointFailsThePeersLinkWithinDeadAfter() async throws {
        // Both ends keep alive every second (a quarter of deadAfter) on one event loop of their
        // own: a loaded machine that stalls it stalls both ends alike, which the tunnel excuses
        // (see the next test); another test's work on the shared loops cannot silence one end.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let alice = try await endpoint(aliceIdentity, group: group) { $0.deadAfter = .seconds(4) }
        let bob = try await endpoint(bobIdentity, group: group) { $0.deadAfter = .seconds(4) }
        defer {
            bob.close()
            group.shutdownGracefully { _ in }
        }
        let (aliceLink, bobLink) = try await tunnelPair(alice, bob)
        // The tunnel stays up while both ends live (keepalives flow while idle).
        try aliceLink.send(type: 20, [1])
        var bobFrames = bobLink.inbound.makeAsyncIterator()
        #expect(try await bobFrames.next()?.bytes == [1])

        alice.close()
        // deadAfter (4 s) after the last datagram Alice sent, plus a margin.
        let outcome: TransportError? = try await withDeadline(.seconds(12)) {
            do {
                for try await _ in bobLink.inbound {}
                return nil
            } catch {
                return error as? TransportError
            }
        }
        guard case .connectionLost? = outcome else {
            Issue.record("expected connectionLost, got \(String(describing: outcome))")
            return
        }
        // The closed side's own link ends: it finishes, or throws `.closed` (whichever of the
        // endpoint's close and the tunnel's end its reader sees first), and yields nothing more.
        var aliceFrames = aliceLink.inbound.makeAsyncIterator()
        do {
            #expect(try await aliceFrames.next() == nil)
        } catch {
            #expect(error as? TransportError == .closed)
        }
    }

    @Test func aStallOfThisProcessLongerThanDeadAfterDoesNotFailTheTunnel() async throws {
        // Both ends on one event loop, which then blocks for longer than deadAfter (what a
        // starved process goes through): when it runs again, the peer's keepalive is sent and
        // waits in the socket while the dead-peer check is already due. The check must let the
        // loop read it first instead of blaming the peer for this process's own silence.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { group.shutdownGracefully { _ in } }
        let alice = try await endpoint(aliceIdentity, group: group) { $0.deadAfter = .milliseconds(800) }
        let bob = try await endpoint(bobIdentity, group: group) { $0.deadAfter = .milliseconds(800) }
        defer {
            alice.close()
            bob.close()
        }
        let (aliceLink, bobLink) = try await tunnelPair(alice, bob)
        var bobFrames = bobLink.inbound.makeAsyncIterator()
        try aliceLink.send(type: 20, [1])
        #expect(try await bobFrames.next()?.bytes == [1])

        try await group.next().submit { _ = usleep(2_000_000) }.get()

        try aliceLink.send(type: 20, [2])
        #expect(try await bobFrames.next()?.bytes == [2])
    }

    @Test func aPeerThatOpensItsEndLaterThanDeadAfterStillGetsTheTunnel() async throws {
        // deadAfter long enough for a loaded test machine not to starve the keepalives that long.
        let alice = try await endpoint(aliceIdentity) { $0.deadAfter = .milliseconds(2000) }
        let bob = try await endpoint(bobIdentity) { $0.deadAfter = .milliseconds(2000) }
        defer {
            alice.close()
            bob.close()
        }
        async let aliceLink = alice.tunnel(to: "127.0.0.1:\(bob.localPort)", conversation: 5, role: .dialer, timeout: .seconds(30))
        // Bob's introduction came late: he opens his end well after Alice's deadAfter.
        try await Task.sleep(for: .seconds(5))
        let bobLink = try await bob.tunnel(to: "127.0.0.1:\(alice.localPort)", conversation: 5, role: .listener, timeout: .seconds(30))
        let link = try await aliceLink
        try link.send(type: 20, [7])
        var frames = bobLink.inbound.makeAsyncIterator()
        #expect(try await frames.next()?.bytes == [7])
    }

    @Test func aListenerWaitingForItsPeerTicksOnlyForKeepalives() async throws {
        let bob = try await endpoint(bobIdentity) { $0.deadAfter = .milliseconds(400) }
        let port = try await deadPort()
        let key = UDPTunnel.Key(conversation: 3, address: try SocketAddress(ipAddress: "127.0.0.1", port: port))
        // A handshake timeout that a loaded machine cannot reach before the check below.
        async let waiting: Void = { _ = try? await bob.tunnel(to: "127.0.0.1:\(port)", conversation: 3, role: .listener, timeout: .seconds(120)) }()
        #expect(try await eventually(timeout: .seconds(60), every: .milliseconds(10)) { bob.state.withLock { $0.tunnels[key] } != nil })
        let started = ContinuousClock.now
        // Long past deadAfter, with no peer heard from: the tunnel waits for its handshake
        // timeout, waking for its keepalives (every 100 ms), not spinning (once a millisecond).
        try await Task.sleep(for: .milliseconds(1500))
        let tunnel = try #require(bob.state.withLock { $0.tunnels[key] })
        let ticks = tunnel.ticks
        let keepalives = Int((ContinuousClock.now - started) / .milliseconds(100))
        #expect(ticks <= 2 * keepalives + 10, "\(ticks) ticks in \(keepalives * 100) ms")
        bob.close()
        await waiting
    }

    @Test func closingATunnelLinkEndsThePeersInbound() async throws {
        let alice = try await endpoint(aliceIdentity)
        let bob = try await endpoint(bobIdentity)
        defer {
            alice.close()
            bob.close()
        }
        let (aliceLink, bobLink) = try await tunnelPair(alice, bob)
        aliceLink.close()
        try await withDeadline(.seconds(15)) {
            for try await _ in bobLink.inbound {}
        }
        #expect(throws: TransportError.closed) { try bobLink.send(type: 20, [1]) }
        // The conversation can be opened again.
        let (again, _) = try await tunnelPair(alice, bob)
        #expect(again.peer.id == bobIdentity.id)
    }

    @Test func aWrongClusterSecretFailsTheTunnelHandshake() async throws {
        let alice = try await endpoint(aliceIdentity, secret: "right")
        let bob = try await endpoint(bobIdentity, secret: "wrong")
        defer {
            alice.close()
            bob.close()
        }
        async let aliceFailure = Self.failure {
            try await alice.tunnel(to: "127.0.0.1:\(bob.localPort)", conversation: 9, role: .dialer, timeout: .seconds(20))
        }
        async let bobFailure = Self.failure {
            try await bob.tunnel(to: "127.0.0.1:\(alice.localPort)", conversation: 9, role: .listener, timeout: .seconds(20))
        }
        let outcomes = await [aliceFailure, bobFailure]
        for outcome in outcomes {
            switch outcome {
            case .authenticationFailed?, .closed?, .connectionLost?: break
            default: Issue.record("expected a typed handshake failure, got \(String(describing: outcome))")
            }
        }
        #expect(outcomes.contains { if case .authenticationFailed? = $0 { true } else { false } })
    }

    @Test func garbageDatagramsAreIgnoredAndTunnelsKeepWorking() async throws {
        let alice = try await endpoint(aliceIdentity)
        let bob = try await endpoint(bobIdentity)
        defer {
            alice.close()
            bob.close()
        }
        let (aliceLink, bobLink) = try await tunnelPair(alice, bob, conversation: 11)
        let vandal = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let target = try SocketAddress(ipAddress: "127.0.0.1", port: bob.localPort)
        var generator = SplitMix64(seed: 7)
        for round in 0..<3000 {
            var datagram = generator.bytes(Int.random(in: 0...1400, using: &generator))
            if !datagram.isEmpty, round % 2 == 0 {
                // Every kind byte, and tunnel datagrams naming the live conversation (where a
                // segment's KCP header and a keepalive or goodbye carry it).
                datagram[0] = 0xD1 + UInt8(round % 7)
                if round % 4 == 0 {
                    let at = datagram[0] == UDPDatagramKind.tunnelSegment.rawValue ? UDPTunnelDatagram.segmentOverhead : 1
                    if datagram.count >= at + 4 { datagram.replaceSubrange(at..<at + 4, with: [11, 0, 0, 0]) }
                }
                if round % 8 == 0, datagram[0] != UDPDatagramKind.tunnelSegment.rawValue, datagram.count >= 5 {
                    datagram = Array(datagram.prefix(UDPTunnelDatagram.controlSize))
                }
            }
            try await vandal.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: ByteBuffer(bytes: datagram)))
            // Also from the peer's own address, where they reach the tunnel. Even a goodbye from
            // there is ignored: it does not carry the incarnations of the two ends.
            alice.send(datagram, to: target)
        }
        try await vandal.close()

        for index in 0..<50 { try aliceLink.send(type: 20, Array("after the storm \(index)".utf8)) }
        try await withDeadline(.seconds(30)) {
            var received = 0
            for try await frame in bobLink.inbound {
                #expect(frame.bytes == Array("after the storm \(received)".utf8))
                received += 1
                if received == 50 { break }
            }
        }
        let address = try await alice.observe(server: "127.0.0.1:\(bob.localPort)", timeout: .seconds(20))
        #expect(address == "127.0.0.1:\(alice.localPort)")
    }

    @Test func severalTunnelsShareAnEndpoint() async throws {
        let alice = try await endpoint(aliceIdentity)
        let bob = try await endpoint(bobIdentity)
        let carol = try await endpoint(serverIdentity)
        defer {
            alice.close()
            bob.close()
            carol.close()
        }
        let (toBob, fromAlice) = try await tunnelPair(alice, bob, conversation: 1)
        let (toBobAgain, fromAliceAgain) = try await tunnelPair(alice, bob, conversation: 2)
        let (toCarol, fromAliceToCarol) = try await tunnelPair(alice, carol, conversation: 1)
        await #expect(throws: TransportError.self) {
            _ = try await alice.tunnel(to: "127.0.0.1:\(bob.localPort)", conversation: 1, role: .dialer, timeout: .seconds(1))
        }
        for (index, (sender, receiver)) in [(toBob, fromAlice), (toBobAgain, fromAliceAgain), (toCarol, fromAliceToCarol)].enumerated() {
            try sender.send(type: 40, [UInt8(index)])
            var frames = receiver.inbound.makeAsyncIterator()
            #expect(try await frames.next()?.bytes == [UInt8(index)])
        }
    }
}
