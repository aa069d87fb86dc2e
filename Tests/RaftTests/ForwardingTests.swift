import P2PCore
import Testing
@testable import Raft

/// A follower's proposal goes to the leader as a `propose` message (etcd's `MsgProp`) and is
/// appended there like the leader's own.
@Suite struct ForwardingTests {
    @Test func aFollowersProposalIsForwardedAppendedAndCommittedEverywhere() throws {
        var cluster = TestCluster(voters: 3)
        let leader = try cluster.electLeader()
        let follower = try #require(cluster.ids.first { $0 != leader })
        let placed = try cluster.with(follower) { try $0.propose([Array("from a follower".utf8)]) }
        #expect(placed.isEmpty)
        let forwarded = try #require(cluster.with(follower) { $0.ready() }.messages.first)
        #expect(forwarded.to == leader)
        #expect(forwarded.body == .propose(commands: [Array("from a follower".utf8)]))
        cluster.nodes[leader]?.step(forwarded)
        cluster.tick(2)
        for id in cluster.ids {
            let node = try #require(cluster.nodes[id])
            let entry = try #require(node.entry(at: node.commitIndex))
            #expect(entry.data == Array("from a follower".utf8))
            #expect(entry.term == node.term)
        }
    }

    @Test func aProposalFromANonMemberOrAnotherTermIsDropped() throws {
        var cluster = TestCluster(voters: 3)
        let leader = try cluster.electLeader()
        let follower = try #require(cluster.ids.first { $0 != leader })
        let before = try #require(cluster.nodes[leader]).lastIndex
        let term = try #require(cluster.nodes[leader]).term
        let stranger = TestCluster.id(99)
        cluster.nodes[leader]?.step(RaftMessage(from: stranger, to: leader, term: term, body: .propose(commands: [[1]])))
        cluster.nodes[leader]?.step(RaftMessage(from: follower, to: leader, term: term + 1, body: .propose(commands: [[2]])))
        cluster.nodes[leader]?.step(RaftMessage(from: follower, to: leader, term: term - 1, body: .propose(commands: [[3]])))
        let after = try #require(cluster.nodes[leader])
        #expect(after.lastIndex == before)
        #expect(after.term == term)
        #expect(after.role == .leader)
    }

    @Test func aFollowerDoesNotPassOnAForwardedProposal() throws {
        var cluster = TestCluster(voters: 3)
        let leader = try cluster.electLeader()
        let followers = cluster.ids.filter { $0 != leader }
        let term = try #require(cluster.nodes[leader]).term
        cluster.nodes[followers[1]]?.step(RaftMessage(from: followers[0], to: followers[1], term: term, body: .propose(commands: [[1]])))
        #expect(cluster.with(followers[1]) { $0.ready() }.messages.isEmpty)
    }

    @Test func aLeaderInTransferDropsForwardedProposals() throws {
        var cluster = TestCluster(voters: 3)
        let leader = try cluster.electLeader()
        let followers = cluster.ids.filter { $0 != leader }
        cluster.drop = { $0.to == followers[1] || $0.from == followers[1] }
        try cluster.with(leader) { try $0.transferLeadership(to: followers[1]) }
        let before = try #require(cluster.nodes[leader]).lastIndex
        let term = try #require(cluster.nodes[leader]).term
        cluster.nodes[leader]?.step(RaftMessage(from: followers[0], to: leader, term: term, body: .propose(commands: [[1]])))
        #expect(cluster.nodes[leader]?.lastIndex == before)
    }
}
