import ClusterHarness
import Foundation
import P2PClient
import Testing
import TestSupport

/// Real `p2pcore-server` processes on loopback.
/// Every suite that runs server processes, one test at a time: on 2 cores, parallel clusters
/// starve each other's elections.
@Suite(.serialized) enum ServerProcessSuites {}

extension ServerProcessSuites {
@Suite struct ClusterProcessTests {
    @Test func threeServersElectALeaderReelectAfterSIGKILLAndARestartedServerRejoins() async throws {
        let cluster = try await LocalCluster.start()
        defer { cluster.stop() }
        let first = try await cluster.agreedLeader()

        first.server.kill(signal: SIGKILL)
        let survivors = cluster.servers.filter { $0 !== first.server }.map(\.name)
        let second = try await cluster.log.wait(for: "a new leader after SIGKILL") { lines in
            ClusterLog.agreedLeader(lines, servers: survivors).flatMap { $0.leader != first.server.nodeID ? $0 : nil }
        }
        #expect(second.term > first.term)

        try cluster.start(first.server)
        let rejoined = try await cluster.agreedLeader(after: second.term - 1)
        #expect(rejoined.server.nodeID == second.leader)

        for server in cluster.servers { server.stop() }
        // The last lines may still be in the pipes when the processes have exited: await them.
        let stopped = try await cluster.log.wait(for: "three graceful stops") { lines in
            let count = lines.filter { $0.contains("server stopped") }.count
            return count >= 3 ? count : nil
        }
        #expect(stopped == 3, "the SIGTERMed servers shut down gracefully")
    }

    @Test func aNewServerPointedAtOneFollowerJoinsAsAVoterWithTheWholeStateAndServesClients() async throws {
        let cluster = try await LocalCluster.start()
        defer { cluster.stop() }
        let (leader, _) = try await cluster.agreedLeader()
        let follower = try #require(cluster.servers.first { $0 !== leader })
        let originals = cluster.servers

        // State from before the join: two registered clients and a delivered message.
        try await withClient(cluster.clientConfiguration("alice")) { alice in
            let bob = try await P2PClient.start(cluster.clientConfiguration("bob"))
            let first = Task { try await RelayDeliveryTests.collect(bob, count: 1) }
            try await alice.send(to: bob.id, data: Array("before".utf8), timeout: .seconds(30))
            #expect(try await first.value.map(\.data) == [Array("before".utf8)])
            await bob.shutdown()

            let newcomer = try await cluster.addServer(through: follower)
            let newcomerID = try await cluster.log.wait(for: "the newcomer's id") { _ in newcomer.nodeID }
            // The leader adds it as a learner, then promotes it once it has caught up.
            _ = try await cluster.log.wait(for: "the newcomer applied a membership where it votes") { lines in
                lines.contains { $0.hasPrefix("[\(newcomer.name)]") && $0.contains("membership applied")
                    && (ClusterLog.field("raft.voters", in: $0)?.contains(newcomerID) ?? false) } ? true : nil
            }
            try await cluster.agreedLeader()

            // With four voters a quorum is three: once another original server is gone, nothing
            // commits without the newcomer's vote.
            let stopped = try #require(originals.first { $0 !== leader && $0 !== follower })
            stopped.kill(signal: SIGKILL)

            // Bob comes back attached to the newcomer only: it knows him (the registry came over).
            var onlyNewcomer = cluster.clientConfiguration("bob")
            onlyNewcomer.servers = ["127.0.0.1:\(newcomer.port)"]
            try await withClient(onlyNewcomer) { bobAgain in
                let known = try await bobAgain.clients()
                #expect((known.direct + known.notDirect).contains(alice.id))
                let servers = await bobAgain.servers()
                #expect(servers.connected.count == 1)

                let receiving = Task { try await RelayDeliveryTests.collect(bobAgain, count: 20) }
                for i in 0..<20 { try await alice.send(to: bobAgain.id, data: RelayDeliveryTests.payload(i), timeout: .seconds(30)) }
                let received = try await receiving.value
                #expect(received.map(\.data) == (0..<20).map(RelayDeliveryTests.payload))
            }
        }
    }
}
}
