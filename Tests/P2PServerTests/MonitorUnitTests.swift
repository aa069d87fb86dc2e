import AdminProtocol
import Foundation
import P2PCore
import Raft
import Testing
@testable import P2PServer

/// The monitor's pure parts: readiness, the pairs' paths, safe-to-stop, the credential check.
@Suite struct MonitorUnitTests {
    let ids = (0..<4).map { _ in NodeID.random() }

    @Test func readinessNeedsMembershipALeaderAndCatchingUp() {
        let leader = ids[0]
        #expect(!Readiness.evaluate(formed: false, isMember: false, role: nil, leader: nil, commitIndex: 0, appliedIndex: 0).ready)
        #expect(!Readiness.evaluate(formed: true, isMember: false, role: .follower, leader: leader, commitIndex: 5, appliedIndex: 5).ready)
        let alone = Readiness.evaluate(formed: true, isMember: true, role: .preCandidate, leader: nil, commitIndex: 5, appliedIndex: 5)
        #expect(!alone.ready && alone.reason.contains("no leader") && alone.reason.contains("preCandidate"))
        let behind = Readiness.evaluate(formed: true, isMember: true, role: .follower, leader: leader, commitIndex: 500, appliedIndex: 10)
        #expect(!behind.ready && behind.reason.contains("catching up"))
        #expect(Readiness.evaluate(formed: true, isMember: true, role: .follower, leader: leader, commitIndex: 12, appliedIndex: 10).ready)
    }

    func summary(_ id: NodeID, direct: [NodeID] = [], relayed: [NodeID]? = nil) -> ClientSummary {
        var summary = ClientSummary(
            id: id, online: true, attachedServers: [], wanAddresses: [], lanAddresses: [], listenAddress: "", listenPort: 0,
            lastSeenMillis: 0, mailboxMessages: 0, mailboxBytes: 0, oldestMessageMillis: nil, directPeers: direct
        )
        summary.relayedPeers = relayed
        return summary
    }

    @Test func pairsPreferTheClientsReportsThenWhatServersSaw() {
        let (a, b, c, d) = (ids[0], ids[1], ids[2], ids[3])
        // Two servers each know half of a's links; merged, a has both.
        let merged = MonitorStatus.merge([[summary(a, direct: [b]), summary(c, relayed: [a])], [summary(a, relayed: [b, d])]])
        #expect(merged.first { $0.id == a }?.relayedPeers == [b, d].sorted())
        let report = PairPathReport(reporter: d, peer: a, path: .udp, rttMillis: 3, lossPercent: 0, lastAttempt: nil, reportedAtMillis: 1, server: ids[1])
        let pairs = MonitorStatus.pairs(of: merged, reports: [report])
        func path(_ x: NodeID, _ y: NodeID) -> MonitorStatus.Pair? { pairs.first { Set([$0.a, $0.b]) == Set([x, y]) } }
        #expect(path(a, b)?.path == "direct" && path(a, b)?.source == "server-observed", "a declared b direct: direct wins over relayed")
        #expect(path(a, c)?.path == "relay")
        #expect(path(a, d)?.path == "direct" && path(a, d)?.kind == "udp" && path(a, d)?.rttMillis == 3, "a client report beats the relay record")
        #expect(pairs.count == 3 && pairs.allSatisfy { $0.a < $0.b })
    }

    func status(_ id: NodeID, reachable: Bool = true, leader: NodeID?, applied: UInt64 = 100, commit: UInt64 = 100) -> ServerStatus {
        ServerStatus(
            id: id, address: "x", role: reachable ? "follower" : "unreachable", reachable: reachable, leader: leader,
            term: 1, commitIndex: commit, appliedIndex: applied, voter: true
        )
    }

    @Test func safeToStopCountsTheOtherCaughtUpVoters() {
        let (s1, s2, s3) = (ids[0], ids[1], ids[2])
        let voters: Set = [s1, s2, s3]
        let healthy = ClusterStatus(servers: [status(s1, leader: s1), status(s2, leader: s1), status(s3, leader: s1)], leader: s1, healthy: true, problems: [])
        #expect(AdminService.safeToStop(s2, voters: voters, cluster: healthy).safe)
        let lagging = ClusterStatus(servers: [status(s1, leader: s1), status(s2, leader: s1), status(s3, leader: s1, applied: 10)], leader: s1, healthy: true, problems: [])
        let report = AdminService.safeToStop(s2, voters: voters, cluster: lagging)
        #expect(!report.safe && report.othersCaughtUp == 1 && report.explanation.hasPrefix("NOT safe"))
        #expect(AdminService.safeToStop(s3, voters: voters, cluster: lagging).safe && !AdminService.safeToStop(s3, voters: voters, cluster: lagging).serverReady)
        let leaderless = ClusterStatus(servers: [status(s1, leader: nil), status(s2, leader: nil), status(s3, leader: nil)], leader: nil, healthy: false, problems: [])
        #expect(!AdminService.safeToStop(s1, voters: voters, cluster: leaderless).safe)
    }

    @Test func theAdminSecretIsABearerTokenOrABasicAuthPassword() {
        typealias Auth = MonitorCredential
        let secret = "s3cret-admin"
        #expect(Auth.authorizes("Bearer s3cret-admin", secret: secret))
        #expect(Auth.authorizes("bearer  s3cret-admin ", secret: secret))
        #expect(Auth.authorizes("Basic " + Data("ops:s3cret-admin".utf8).base64EncodedString(), secret: secret))
        #expect(Auth.authorizes("Basic " + Data(":s3cret-admin".utf8).base64EncodedString(), secret: secret))
        #expect(!Auth.authorizes("Basic " + Data("s3cret-admin:x".utf8).base64EncodedString(), secret: secret))
        #expect(!Auth.authorizes("Bearer s3cret-admi", secret: secret))
        #expect(!Auth.authorizes("Token s3cret-admin", secret: secret))
        #expect(!Auth.authorizes("Basic !!!", secret: secret))
        #expect(!Auth.authorizes(nil, secret: secret))
    }
}
