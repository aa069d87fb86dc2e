import NIOCore
import P2PCore
import Testing
@testable import Transport

/// A server's UDP side answers an observe request only inside the replay window, and once.
@Suite struct UDPObserveReplayTests {
    let aliceIdentity = NodeIdentity.ephemeral()
    let bobIdentity = NodeIdentity.ephemeral()

    private func endpoint(_ identity: NodeIdentity) async throws -> UDPEndpoint {
        try await UDPEndpoint.bind(host: "127.0.0.1", port: 0, configuration: LinkConfiguration(identity: identity, secret: "s3cret"))
    }

    /// Alice's request stamped `offset` ms from now, as captured by an attacker.
    private func captured(offset: Int64, authenticator: UDPDatagramAuthenticator) throws -> [UInt8] {
        try UDPObserveRequest(
            identity: aliceIdentity, nonce: UDPEndpoint.randomBytes(UDPObserveRequest.nonceSize), timestamp: UDPEndpoint.wallClockMilliseconds() + offset
        ).encoded(signedBy: aliceIdentity, authenticator: authenticator)
    }

    /// Everything the server observed and reported, once it is closed.
    private func drained(_ server: UDPEndpoint) async -> (observed: [UDPObservation], rejected: [UDPObserveRejection]) {
        server.close()
        var observed: [UDPObservation] = []
        for await observation in server.observations { observed.append(observation) }
        var rejected: [UDPObserveRejection] = []
        for await rejection in server.observeRejections { rejected.append(rejection) }
        return (observed, rejected)
    }

    @Test func aCapturedRequestReplayedAfterTheWindowIsNotAnswered() async throws {
        let server = try await endpoint(NodeIdentity.ephemeral())
        let mallory = try await endpoint(bobIdentity)
        defer { mallory.close() }
        let serverAddress = try SocketAddress(ipAddress: "127.0.0.1", port: server.localPort)
        mallory.send(try captured(offset: -31_000, authenticator: mallory.authenticator), to: serverAddress)
        mallory.send(try captured(offset: 31_000, authenticator: mallory.authenticator), to: serverAddress)
        // Mallory's own request on the same socket is answered after the captured ones were handled.
        _ = try await mallory.observe(server: "127.0.0.1:\(server.localPort)", timeout: .seconds(20))
        let (observed, rejected) = await drained(server)
        #expect(observed.allSatisfy { $0.client == bobIdentity.id }, "Alice's stale requests were not answered")
        let stale = try #require(rejected.first { $0.reason == .outsideWindow })
        #expect(stale.client == aliceIdentity.id && stale.address == "127.0.0.1:\(mallory.localPort)")
        #expect(stale.skewMilliseconds < -30_000, "the first one is reported; the second is counted toward the next report")
    }

    @Test func aReplayInsideTheWindowIsAnsweredOnlyOnceFromAnyAddress() async throws {
        let server = try await endpoint(NodeIdentity.ephemeral())
        let alice = try await endpoint(aliceIdentity)
        let mallory = try await endpoint(bobIdentity)
        defer {
            alice.close()
            mallory.close()
        }
        let serverAddress = try SocketAddress(ipAddress: "127.0.0.1", port: server.localPort)
        let request = try captured(offset: 0, authenticator: alice.authenticator)
        // Each socket's own observe follows its copies, so they were handled before it is answered
        // (datagrams from one socket to another on loopback keep their order; across sockets they need not).
        // An observe sends its request again every quarter of its timeout, each copy observed once
        // more: a long timeout keeps a slow answer on a loaded machine from counting twice.
        alice.send(request, to: serverAddress)
        alice.send(request, to: serverAddress)
        _ = try await alice.observe(server: "127.0.0.1:\(server.localPort)", timeout: .seconds(240))
        mallory.send(request, to: serverAddress)
        _ = try await mallory.observe(server: "127.0.0.1:\(server.localPort)", timeout: .seconds(240))
        let (observed, _) = await drained(server)
        let aliceAddress = "127.0.0.1:\(alice.localPort)"
        #expect(observed.filter { $0.client == aliceIdentity.id }.map(\.address) == [aliceAddress, aliceAddress], "the request once, then Alice's own")
        #expect(observed.filter { $0.client == bobIdentity.id }.count == 1)
    }

    @Test func aRequestWithoutTimestampIsRefusedAndReported() async throws {
        let server = try await endpoint(NodeIdentity.ephemeral())
        let old = try await endpoint(aliceIdentity)
        defer { old.close() }
        // kind ‖ id ‖ nonce ‖ key ‖ MAC ‖ signature: the request of a client before timestamps.
        let signed = [UInt8(0xD1)] + aliceIdentity.id.bytes + UDPEndpoint.randomBytes(16) + aliceIdentity.publicKeyBytes
        let legacy = signed + old.authenticator.mac(signed) + (try aliceIdentity.sign(Array("p2pcore-udp-observe-v1".utf8) + signed))
        #expect(legacy.count == UDPObserveRequest.legacySize)
        let serverAddress = try SocketAddress(ipAddress: "127.0.0.1", port: server.localPort)
        old.send(legacy, to: serverAddress)
        old.send(Array(legacy.dropLast()), to: serverAddress)
        _ = try await old.observe(server: "127.0.0.1:\(server.localPort)", timeout: .seconds(20))
        let (observed, rejected) = await drained(server)
        #expect(observed.count == 1, "only the current request")
        #expect(rejected.map(\.reason) == [.legacyRequest])
        #expect(rejected.first?.client == aliceIdentity.id)
    }
}
