import P2PCore
import Testing
@testable import Transport
@testable import P2PServer

/// The server's pure trust rules: which candidates it vouches for, how fast a client may go.
@Suite struct TrustRulesTests {
    @Test func introductionsCarryOnlyCandidatesTheServersCanVouchFor() {
        let reported = ["192.168.1.5:7100", "10.0.0.7:7100"]
        let (tcp, udp) = ClientGateway.vouchedCandidates(
            tcp: ["192.168.1.5:7100", "203.0.113.9:22", "10.0.0.7:7100"],
            udp: ["192.168.1.5:7101", "198.51.100.1:53", "203.0.113.50:40000"],
            reported: reported, observed: "203.0.113.50:40000"
        )
        #expect(tcp == ["192.168.1.5:7100", "10.0.0.7:7100"])
        #expect(udp == ["192.168.1.5:7101", "203.0.113.50:40000"])
        // Nothing reported, nothing observed: nothing to probe, whatever the client names.
        let none = ClientGateway.vouchedCandidates(tcp: ["1.2.3.4:80"], udp: ["1.2.3.4:53"], reported: [], observed: nil)
        #expect(none.tcp.isEmpty && none.udp.isEmpty)
        // The observed mapping is offered even when the client did not name it.
        #expect(ClientGateway.vouchedCandidates(tcp: [], udp: [], reported: [], observed: "203.0.113.50:1").udp == ["203.0.113.50:1"])
    }

    @Test func theTokenBucketAllowsABurstThenPacesAtItsRate() {
        var bucket = TokenBucket(rate: 100, burst: 10)
        let start = ContinuousClock.now
        for _ in 0..<10 { #expect(bucket.take(now: start) == .zero) }
        // The 11th token comes 10 ms later at 100/s.
        let wait = bucket.take(now: start)
        #expect(wait > .milliseconds(9) && wait <= .milliseconds(10))
        // After a pause the bucket refills, but never beyond its burst.
        var later = start + .seconds(5)
        var granted = 0
        while bucket.take(now: later) == .zero { granted += 1; later = later + .nanoseconds(1) }
        #expect(granted == 10)
    }

    @Test func serverLinksNeedIdsDerivedFromTheirKeys() {
        let identity = NodeIdentity.generate()
        let derived = PeerInfo(id: identity.id, incarnation: 1, publicKey: identity.publicKeyBytes, remoteAddress: nil, role: .server, channelBinding: [])
        #expect(ServerContext.vet(derived))
        let legacy = PeerInfo(id: .random(), incarnation: 1, publicKey: identity.publicKeyBytes, remoteAddress: nil, role: .server, channelBinding: [])
        #expect(!ServerContext.vet(legacy))
        // Clients may hold a legacy id; the registry decides (see ClientGateway.serve).
        #expect(ServerContext.vet(PeerInfo(id: .random(), incarnation: 1, publicKey: identity.publicKeyBytes, remoteAddress: nil, role: .client, channelBinding: [])))
    }
}
