import AdminProtocol
import ClientProtocol
import MessageModel
import P2PCore
import Testing
@testable import P2PServer

/// Path diagnostics' pure parts: NAT inference from the servers' observations, the verdict on a
/// pair, and the bounds on what clients may report.
@Suite struct PathInferenceTests {
    let client = NodeID.random()
    let servers = (0..<3).map { _ in NodeID.random() }

    func observed(_ mappings: [String], age: Double = 1) -> [MappingObservation] {
        mappings.enumerated().map { MappingObservation(client: client, server: servers[$0.offset], mapping: $0.element, ageSeconds: age) }
    }

    func nat(_ observations: [MappingObservation], lan: [String] = ["10.0.3.10:7100"], online: Bool = true) -> ClientNATReport {
        PathInference.natReport(client: client, observations: observations, lanAddresses: lan, online: online)
    }

    @Test func differentMappingsAtDifferentServersAreEndpointDependent() {
        #expect(nat(observed(["203.0.113.103:40112", "203.0.113.103:51877", "203.0.113.103:40112"])).behaviour == .endpointDependent)
        // A different address (a NAT with an address pool) is endpoint-dependent too.
        #expect(nat(observed(["203.0.113.103:7100", "203.0.113.104:7100"])).behaviour == .endpointDependent)
    }

    @Test func oneMappingEverywhereIsEndpointIndependent() {
        let report = nat(observed(["203.0.113.101:7100", "203.0.113.101:7100", "203.0.113.101:7100"]))
        #expect(report.behaviour == .endpointIndependent)
        #expect(report.observations.count == 3)
    }

    @Test func theClientsOwnAddressIsNoNATAndOneObservationIsNotEnough() {
        #expect(nat(observed(["10.0.3.10:7100", "10.0.3.10:7100"])).behaviour == .noNAT)
        // The UDP port may differ from the TCP listener's: the host decides.
        #expect(nat(observed(["10.0.3.10:7101"])).behaviour == .noNAT)
        #expect(nat(observed(["203.0.113.101:7100"])).behaviour == .undetermined)
        #expect(nat([]).behaviour == .unknown)
        // A server on the client's own LAN sees its address; the others see one translated mapping.
        #expect(nat(observed(["10.0.3.10:7100", "203.0.113.101:7100", "203.0.113.101:7100"])).behaviour == .endpointIndependent)
    }

    @Test func staleObservationsGiveWayToFreshOnes() {
        // A mapping seen long ago (before a NAT flush) does not make a cone NAT look symmetric.
        var observations = observed(["203.0.113.101:7100", "203.0.113.101:7100"])
        observations.append(MappingObservation(client: client, server: servers[2], mapping: "203.0.113.101:9999", ageSeconds: 600))
        #expect(nat(observations).behaviour == .endpointIndependent)
        // Only stale ones: they are still all there is.
        #expect(nat(observed(["203.0.113.101:1", "203.0.113.101:2"], age: 600)).behaviour == .endpointDependent)
        // Observations of other clients are not this one's.
        let other = MappingObservation(client: NodeID.random(), server: servers[2], mapping: "203.0.113.9:1", ageSeconds: 1)
        #expect(nat(observed(["203.0.113.101:7100", "203.0.113.101:7100"]) + [other]).behaviour == .endpointIndependent)
    }

    @Test func theVerdictNamesTheSymmetricNATOfARelayedPair() {
        let peer = NodeID.random()
        let symmetric = nat(observed(["203.0.113.103:40112", "203.0.113.103:51877"]))
        let cone = PathInference.natReport(
            client: peer, observations: servers.prefix(2).map { MappingObservation(client: peer, server: $0, mapping: "203.0.113.101:7100", ageSeconds: 1) },
            lanAddresses: ["10.0.1.10:7100"], online: true
        )
        let failed = PairPathReport(
            reporter: peer, peer: client, path: .relay, rttMillis: nil, lossPercent: nil,
            lastAttempt: PathAttemptReport(atMillis: 900, kind: "lan+udp", succeeded: false, reason: "UDP: no UDP reply from 203.0.113.103:40112 within 3 s"),
            reportedAtMillis: 1000, server: servers[0]
        )
        let diagnosis = PathInference.diagnose(a: symmetric, b: cone, reports: [failed])
        #expect(diagnosis.path == .relay)
        #expect(diagnosis.verdict == "relayed: \(client) is behind an endpoint-dependent (symmetric) NAT; hole punching cannot predict its port")
        #expect(diagnosis.reports == [failed])

        // Two cone NATs and a failed attempt: the attempt's reason.
        let cone2 = nat(observed(["203.0.113.102:7100", "203.0.113.102:7100"]))
        #expect(PathInference.diagnose(a: cone2, b: cone, reports: [failed]).verdict == "relayed: the last direct attempt (lan+udp) failed: UDP: no UDP reply from 203.0.113.103:40112 within 3 s")
        #expect(PathInference.diagnose(a: cone2, b: cone, reports: []).verdict.hasPrefix("relayed: neither client reported"))
    }

    @Test func theNewestReportTellsTheDirectPathAndItsQuality() {
        let peer = NodeID.random()
        let a = nat(observed(["203.0.113.101:7100", "203.0.113.101:7100"]))
        let b = PathInference.natReport(client: peer, observations: [], lanAddresses: [], online: true)
        let old = PairPathReport(reporter: client, peer: peer, path: .relay, rttMillis: nil, lossPercent: nil, lastAttempt: nil, reportedAtMillis: 100, server: servers[0])
        let new = PairPathReport(reporter: client, peer: peer, path: .udp, rttMillis: 12.34, lossPercent: 5, lastAttempt: nil, reportedAtMillis: 200, server: servers[1])
        let unrelated = PairPathReport(reporter: client, peer: NodeID.random(), path: .lan, rttMillis: 1, lossPercent: 0, lastAttempt: nil, reportedAtMillis: 300, server: servers[1])
        let diagnosis = PathInference.diagnose(a: a, b: b, reports: [old, new, unrelated])
        #expect(diagnosis.path == .udp)
        #expect(diagnosis.reports == [new])
        #expect(diagnosis.verdict == "direct: a UDP tunnel hole-punched through both NATs; rtt 12.3 ms, loss 5%")
    }

    // MARK: What clients may report

    @Test func serversKeepBoundedReportsOnlyOfTheReportersOwnPairs() {
        let server = servers[0]
        let store = PathReports(server: server, capacity: 3)
        let peer = NodeID.random()
        let attempt = PathReport.Attempt(agoMillis: 2_000, kind: .udp, succeeded: false, reason: "no UDP reply")
        store.record([
            PathReport(peer: peer, path: .udp, rttMicros: 1_500, lossPerMille: 25, lastAttempt: attempt),
            PathReport(peer: peer, path: .relay),  // a repeated peer: the first counts
            PathReport(peer: client, path: .lan),  // a "pair" with itself
        ], from: client, nowMillis: 10_000)
        let kept = store.reports(of: [client])
        #expect(kept.count == 1)
        #expect(kept.first?.reporter == client && kept.first?.peer == peer && kept.first?.path == .udp)
        #expect(kept.first?.rttMillis == 1.5 && kept.first?.lossPercent == 2.5)
        #expect(kept.first?.lastAttempt == PathAttemptReport(atMillis: 8_000, kind: "udp", succeeded: false, reason: "no UDP reply"))
        #expect(kept.first?.source == "client-reported" && kept.first?.server == server)
        // An attempt "before 1970" is dated at 0, not wrapped around.
        store.record([PathReport(peer: peer, path: .relay, lastAttempt: PathReport.Attempt(agoMillis: .max, kind: .lan, succeeded: false, reason: ""))], from: client, nowMillis: 10_001)
        #expect(store.reports(of: [client]).first?.lastAttempt?.atMillis == 0)

        // One report per client, the newest; at most `capacity` clients, the stalest forgotten.
        let others = (0..<3).map { _ in NodeID.random() }
        for (index, other) in others.enumerated() { store.record([PathReport(peer: peer, path: .relay)], from: other, nowMillis: 20_000 + UInt64(index)) }
        #expect(store.clientCount == 3)
        #expect(store.reports(of: [client]).isEmpty)
        #expect(Set(store.reports().map(\.reporter)) == Set(others))
        // Beyond the most pairs in a report, the rest is dropped.
        let many = (0..<(PathReport.maximumPeers + 10)).map { _ in PathReport(peer: NodeID.random(), path: .relay) }
        store.record(many, from: others[2], nowMillis: 30_000)
        #expect(store.reports(of: [others[2]]).count == PathReport.maximumPeers)
    }

    @Test func pathReportsRoundTripAndOversizedOnesAreRefused() throws {
        let reports = [
            PathReport(peer: NodeID.random(), path: .lan, rttMicros: 420, lossPerMille: 0,
                       lastAttempt: PathReport.Attempt(agoMillis: 5, kind: .lanAndUDP, succeeded: true, reason: "LAN link to 10.0.1.11:7100")),
            PathReport(peer: NodeID.random(), path: .relay),
        ]
        #expect(try ClientRequest(decoding: ClientRequest.pathReport(reports).encoded()) == .pathReport(reports))

        let tooMany = (0...PathReport.maximumPeers).map { _ in PathReport(peer: NodeID.random(), path: .relay) }
        #expect(throws: DecodingError.self) { try ClientRequest(decoding: ClientRequest.pathReport(tooMany).encoded()) }

        // The encoder cuts a long reason on a character boundary; a decoder refuses a longer one.
        let long = String(repeating: "é", count: PathReport.maximumReasonLength)
        let cut = PathReport(peer: NodeID.random(), path: .relay, lastAttempt: PathReport.Attempt(agoMillis: 0, kind: .udp, succeeded: false, reason: long))
        guard case .pathReport(let decoded) = try ClientRequest(decoding: ClientRequest.pathReport([cut]).encoded()) else {
            Issue.record("not a path report")
            return
        }
        let reason = try #require(decoded.first?.lastAttempt?.reason)
        #expect(reason.utf8.count <= PathReport.maximumReasonLength && long.hasPrefix(reason))
        var forged = ByteWriter()
        forged.write(UInt8(1))
        forged.write(UInt8(8))  // pathReport
        forged.write(UInt32(1))
        forged.write(NodeID.random())
        forged.write(UInt8(0))  // relay
        forged.write(false)  // no rtt
        forged.write(false)  // no loss
        forged.write(true)  // an attempt
        forged.write(UInt64(0))
        forged.write(UInt8(2))
        forged.write(false)
        forged.write(long)
        #expect(throws: DecodingError.self) { try ClientRequest(decoding: forged.bytes) }
    }
}
