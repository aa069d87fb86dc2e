import AdminProtocol
import ClusterHarness
import Foundation
import P2PClient
import P2PCore
import P2PServer
import Testing
import TestSupport

/// The monitor of in-process servers: `/metrics` in the Prometheus format with series that move
/// as messages flow (and do not mix between servers of one process), `/readyz` following the
/// quorum, the admin credential, and `mailbox-admin server safe-to-stop`.
extension ServerProcessSuites {
@Suite struct MonitorTests {
    static func metrics(_ cluster: InProcessCluster, _ index: Int) async throws -> PrometheusText {
        let reply = try await HTTP.get(port: cluster.monitorPorts[index], "/metrics", bearer: cluster.adminSecret)
        try #require(reply.status == 200, "GET /metrics on s\(index + 1): \(reply.status) \(reply.body)")
        #expect(reply.headers["content-type"]?.hasPrefix("text/plain; version=0.0.4") == true)
        return try PrometheusText(parsing: reply.body)
    }

    static func relayedTotal(_ cluster: InProcessCluster) async throws -> Double {
        var total = 0.0
        for index in cluster.servers.indices { total += try await metrics(cluster, index).value("p2pcore_relayed_messages_total") ?? 0 }
        return total
    }

    @Test func metricsParseAndMoveAsMessagesFlow() async throws {
        let scratch = TemporaryDirectory("monitor-metrics")
        let cluster = try await InProcessCluster.start(root: scratch.path)
        do {
            let secret = try #require(cluster.adminSecret)
            let port = cluster.monitorPorts[0]
            // The admin secret guards everything but the probes; both credential forms work.
            #expect(try await HTTP.get(port: port, "/healthz").status == 200)
            #expect(try await HTTP.get(port: port, "/readyz").status == 200)
            #expect(try await HTTP.get(port: port, "/metrics").status == 401)
            #expect(try await HTTP.get(port: port, "/status", bearer: "wrong").status == 401)
            #expect(try await HTTP.get(port: port, "/", basic: ("ops", "wrong")).status == 401)
            #expect(try await HTTP.get(port: port, "/", basic: ("ops", secret)).status == 200)

            let before = try await Self.metrics(cluster, 0)
            for name in [
                "p2pcore_raft_term", "p2pcore_raft_commit_index", "p2pcore_raft_applied_index", "p2pcore_raft_proposals_total",
                "p2pcore_raft_commits_total", "p2pcore_relayed_messages_total", "p2pcore_relayed_bytes_total", "p2pcore_mailbox_messages",
                "p2pcore_mailbox_oldest_message_age_seconds", "p2pcore_attached_clients", "p2pcore_direct_pairs", "p2pcore_introductions_total",
            ] {
                #expect(before.value(name) != nil, "no series \(name)")
                #expect(before.help[name]?.isEmpty == false, "no HELP for \(name)")
            }
            #expect(before.types["p2pcore_lmdb_sync_seconds"] == "histogram")
            #expect((before.value("p2pcore_lmdb_sync_seconds_count") ?? 0) > 0, "no LMDB sync timed")
            #expect(before.value("p2pcore_rejected_total", ["reason": "handshake"]) != nil)
            // Each server has its own registry: exactly one of the three reports itself leader.
            var leaders = 0
            for index in 0..<3 { leaders += Int(try await Self.metrics(cluster, index).value("p2pcore_raft_role", ["role": "leader"]) ?? 0) }
            #expect(leaders == 1, "\(leaders) servers report the leader role: registries mixed?")

            let relayedBefore = try await Self.relayedTotal(cluster)
            let commitBefore = try #require(before.value("p2pcore_raft_commit_index"))
            // Alice reports her client metrics into s1's registry (an application would pass its own factory).
            var aliceConfiguration = cluster.clientConfiguration("alice", direct: false)
            aliceConfiguration.metricsFactory = try #require(cluster.servers[0]).metrics.factory
            try await withClients([aliceConfiguration, cluster.clientConfiguration("bob", direct: false)]) { clients in
                let (alice, bob) = (clients[0], clients[1])
                let received = Task { try await RelayDeliveryTests.collect(bob, count: 5) }
                for i in 0..<5 { try await alice.send(to: bob.id, data: RelayDeliveryTests.payload(i), timeout: .seconds(30)) }
                #expect(try await received.value.count == 5)
                let attached = try await eventually {
                    var total = 0.0
                    for index in 0..<3 { total += try await Self.metrics(cluster, index).value("p2pcore_attached_clients") ?? 0 }
                    return total >= 2
                }
                #expect(attached, "the attached clients gauge does not count alice and bob")
            }
            let relayedAfter = try await Self.relayedTotal(cluster)
            #expect(relayedAfter >= relayedBefore + 5, "relayed messages went from \(relayedBefore) to \(relayedAfter)")
            let after = try await Self.metrics(cluster, 0)
            #expect(try #require(after.value("p2pcore_raft_commit_index")) > commitBefore)
            #expect(try #require(after.value("p2pcore_raft_applied_index")) > commitBefore)
            #expect(try #require(after.value("p2pcore_raft_commits_total")) > (before.value("p2pcore_raft_commits_total") ?? 0))
            #expect(after.value("p2pcore_client_send_seconds_count", ["path": "relay"]) == 5, "alice's relayed sends are not timed")
            #expect(after.value("p2pcore_client_outbox_messages") == 0)
        } catch {
            await cluster.stopAll()
            throw error
        }
        await cluster.stopAll()
    }

    @Test func readyzFollowsTheQuorumAndSafeToStopCountsIt() async throws {
        let scratch = TemporaryDirectory("monitor-ready")
        let cluster = try await InProcessCluster.start(root: scratch.path)
        do {
            let port = cluster.monitorPorts[0]
            let ids = cluster.servers.compactMap { $0?.id }
            let secret = try #require(cluster.adminSecret)
            #expect(try await HTTP.get(port: port, "/readyz").status == 200)
            // All three up: any one may stop.
            let report = try await Self.safeToStop(ids[1], asking: cluster.addresses[0], secret: secret)
            #expect(report.safe && report.serverReady && report.othersCaughtUp == 2 && report.quorum == 2, "\(report)")
            let cli = try await MailboxAdminTests.run(
                ["server", "safe-to-stop", "\(ids[1])", "--server", cluster.addresses[0]], environment: ["P2PCORE_ADMIN_SECRET": secret]
            )
            #expect(cli.code == 0 && cli.stdout.contains("safe to stop"), "\(cli)")

            // With s3 down, stopping s2 would leave s1 alone; stopping s3 (already down) is safe.
            await cluster.stop(2)
            let unsafe = try await Self.safeToStop(ids[1], asking: cluster.addresses[0], secret: secret)
            #expect(!unsafe.safe && unsafe.othersCaughtUp == 1, "\(unsafe)")
            let refused = try await MailboxAdminTests.run(
                ["server", "safe-to-stop", "\(ids[1])", "--server", cluster.addresses[0]], environment: ["P2PCORE_ADMIN_SECRET": secret]
            )
            #expect(refused.code == 1 && refused.stdout.contains("NOT safe to stop"), "\(refused)")
            let gone = try await Self.safeToStop(ids[2], asking: cluster.addresses[0], secret: secret)
            #expect(gone.safe && !gone.serverReady, "\(gone)")

            // s1 cut off from the quorum: not ready (503, with a reason), then ready once it rejoins.
            await cluster.stop(1)
            let cutOff = try await eventually(timeout: .seconds(20)) { try await HTTP.get(port: port, "/readyz").status == 503 }
            #expect(cutOff, "/readyz stayed 200 on a server without a quorum")
            let reply = try await HTTP.get(port: port, "/readyz")
            let readiness = try JSONDecoder().decode(Readiness.self, from: Data(reply.body.utf8))
            #expect(!readiness.ready && readiness.reason.contains("no leader"), "\(readiness)")
            #expect(try await HTTP.get(port: port, "/healthz").status == 200, "the process still serves")

            try await cluster.start(1)
            try await cluster.start(2)
            let back = try await eventually(timeout: .seconds(30)) { try await HTTP.get(port: port, "/readyz").status == 200 }
            #expect(back, "/readyz did not recover once the quorum was back")
        } catch {
            await cluster.stopAll()
            throw error
        }
        await cluster.stopAll()
    }

    static func safeToStop(_ server: NodeID, asking address: String, secret: String) async throws -> SafeToStopReport {
        let admin = try await AdminClient.connect(to: try #require(HostPort(address)), adminSecret: secret)
        defer { admin.close() }
        guard case .safeToStop(let report) = try await admin.request(.safeToStop(server)) else {
            throw HTTP.Malformed(description: "unexpected answer to safe-to-stop")
        }
        return report
    }
}
}
