import P2PCore
import Testing
@testable import Raft

/// Linearizable reads (etcd's ReadOnlySafe): a read state names the leader's commit index when
/// the read arrived, and comes out only after a quorum confirmed the leadership.
@Suite struct ReadIndexTests {
    /// Every read state each node's readies produced so far.
    static func readStates(_ cluster: TestCluster, _ id: NodeID) -> [ReadState] {
        (cluster.readies[id] ?? []).flatMap(\.readStates)
    }

    @Test func theLeaderConfirmsAReadWithAHeartbeatQuorum() throws {
        var cluster = TestCluster(voters: 3)
        let leader = try cluster.electLeader()
        _ = try cluster.with(leader) { try $0.propose([[1]]) }
        cluster.settle()
        let commit = try #require(cluster.nodes[leader]).commitIndex
        try cluster.with(leader) { try $0.readIndex(context: 42) }
        // Nothing before a quorum answered the read's heartbeat round.
        let ready = cluster.with(leader) { $0.ready() }
        #expect(ready.readStates.isEmpty)
        #expect(ready.messages.contains { if case .heartbeat(_, let round) = $0.body { round > 0 } else { false } })
        for message in ready.messages { cluster.nodes[message.to]?.step(message) }
        cluster.settle()
        #expect(Self.readStates(cluster, leader) == [ReadState(index: commit, context: 42)])
    }

    @Test func aFollowersReadIsAnsweredByTheLeader() throws {
        var cluster = TestCluster(voters: 3)
        let leader = try cluster.electLeader()
        let follower = try #require(cluster.ids.first { $0 != leader })
        _ = try cluster.with(leader) { try $0.propose([[1], [2]]) }
        cluster.settle()
        let commit = try #require(cluster.nodes[leader]).commitIndex
        try cluster.with(follower) { try $0.readIndex(context: 7) }
        cluster.settle()
        #expect(Self.readStates(cluster, follower) == [ReadState(index: commit, context: 7)])
        #expect(Self.readStates(cluster, leader).isEmpty)
    }

    @Test func anIsolatedLeaderConfirmsNoRead() throws {
        var cluster = TestCluster(voters: 3)
        let leader = try cluster.electLeader()
        cluster.drop = { $0.from == leader || $0.to == leader }
        try cluster.with(leader) { try $0.readIndex(context: 1) }
        cluster.tick(5, only: [leader])
        #expect(Self.readStates(cluster, leader).isEmpty)
        // The majority elects another leader, which commits more: the old one still confirms nothing.
        let others = cluster.ids.filter { $0 != leader }
        cluster.tick(40, only: others)
        let newLeader = try #require(others.first { cluster.nodes[$0]?.role == .leader })
        _ = try cluster.with(newLeader) { try $0.propose([[9]]) }
        cluster.tick(2, only: others)
        #expect(Self.readStates(cluster, leader).isEmpty)
    }

    @Test func aNewLeaderWaitsForItsFirstCommitBeforeServingReads() throws {
        var cluster = TestCluster(voters: 3)
        let first = try cluster.electLeader()
        _ = try cluster.with(first) { try $0.propose([[1]]) }
        cluster.settle()
        let committed = try #require(cluster.nodes[first]).commitIndex
        // The next leader's commit index lags until its no-op commits: hold the acknowledgements back.
        cluster.isolated = [first]
        cluster.drop = { if case .appendResponse = $0.body { true } else { false } }
        let others = cluster.ids.filter { $0 != first }
        cluster.tick(40, only: others)
        let next = try #require(others.first { cluster.nodes[$0]?.role == .leader })
        #expect(cluster.nodes[next].map { $0.term(at: $0.commitIndex) != $0.term } == true)
        try cluster.with(next) { try $0.readIndex(context: 5) }
        cluster.settle()
        #expect(Self.readStates(cluster, next).isEmpty)
        cluster.drop = { _ in false }
        cluster.tick(3, only: others)
        let states = Self.readStates(cluster, next)
        #expect(states.count == 1)
        #expect(states.first.map { $0.index >= committed && $0.context == 5 } == true)
    }

    @Test func aSingleVoterServesReadsAtOnce() throws {
        var cluster = TestCluster(voters: 1)
        let leader = try cluster.electLeader()
        try cluster.with(leader) { try $0.readIndex(context: 3) }
        let state = try #require(cluster.with(leader) { $0.ready() }.readStates.first)
        #expect(state == ReadState(index: try #require(cluster.nodes[leader]).commitIndex, context: 3))
    }

    @Test func aReadResponseFromANonLeaderIsIgnored() throws {
        var cluster = TestCluster(voters: 3)
        let leader = try cluster.electLeader()
        let followers = cluster.ids.filter { $0 != leader }
        let term = try #require(cluster.nodes[leader]).term
        cluster.nodes[followers[0]]?.step(RaftMessage(from: followers[1], to: followers[0], term: term, body: .readIndexResponse(index: 99, context: 1)))
        #expect(cluster.with(followers[0]) { $0.ready() }.readStates.isEmpty)
    }
}
