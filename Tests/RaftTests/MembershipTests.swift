import P2PCore
import Testing
@testable import Raft

@Suite struct MembershipTests {
    @Test func aLearnerCatchesUpWithoutVotingThenIsPromoted() throws {
        var cluster = TestCluster(voters: 3)
        let leader = try cluster.electLeader()
        for i in 0..<20 { try cluster.with(leader) { _ = try $0.propose([UInt8(i)]) } }
        cluster.settle()
        let newcomer = TestCluster.id(4)
        cluster.ids.append(newcomer)
        cluster.nodes[newcomer] = RaftNode(configuration: TestCluster.configuration(newcomer, seed: 4))
        try cluster.with(leader) { _ = try $0.proposeMembershipChange(.addLearner(newcomer)) }
        cluster.tick(5)
        #expect(cluster.nodes[newcomer]?.membership.learners.contains(newcomer) == true)
        #expect(cluster.nodes[newcomer]?.lastIndex == cluster.nodes[leader]?.lastIndex)
        // A learner never campaigns, however long it waits.
        cluster.isolated = Set(cluster.ids.filter { $0 != newcomer })
        cluster.tick(100, only: [newcomer])
        #expect(cluster.nodes[newcomer]?.role == .follower)
        cluster.isolated = []
        cluster.tick(3)

        try cluster.with(leader) { _ = try $0.proposeMembershipChange(.promote(newcomer)) }
        cluster.tick(3)
        #expect(cluster.nodes[leader]?.membership.voters.count == 4)
        #expect(cluster.nodes[newcomer]?.membership.voters.contains(newcomer) == true)
    }

    @Test func onlyOneMembershipChangeAtATime() throws {
        var cluster = TestCluster(voters: 3)
        let leader = try cluster.electLeader()
        cluster.isolated = Set(cluster.ids.filter { $0 != leader })  // nothing commits
        try cluster.with(leader) { _ = try $0.proposeMembershipChange(.addLearner(TestCluster.id(7))) }
        #expect(throws: RaftError.membershipChangePending) {
            try cluster.with(leader) { _ = try $0.proposeMembershipChange(.addLearner(TestCluster.id(8))) }
        }
    }

    @Test func aRemovedLeaderStepsDownAndTheRestElectANewOne() throws {
        var cluster = TestCluster(voters: 3)
        let leader = try cluster.electLeader()
        try cluster.with(leader) { _ = try $0.proposeMembershipChange(.remove(leader)) }
        cluster.tick(2)
        #expect(cluster.nodes[leader]?.role == .follower)
        #expect(cluster.nodes[leader]?.membership.voters.contains(leader) == false)
        cluster.isolated = [leader]
        let successor = try cluster.electLeader()
        #expect(successor != leader)
        #expect(cluster.nodes[successor]?.membership.voters.count == 2)
    }

    @Test func leadershipTransferMovesLeadershipAndBlocksProposalsMeanwhile() throws {
        var cluster = TestCluster(voters: 3)
        let leader = try cluster.electLeader()
        let target = try #require(cluster.ids.first { $0 != leader })
        cluster.isolated = [target]
        try cluster.with(leader) { try $0.transferLeadership(to: target) }
        #expect(throws: RaftError.transferInProgress) { try cluster.with(leader) { _ = try $0.propose([1]) } }
        cluster.isolated = []
        cluster.tick(3)
        #expect(cluster.leader == target)
        #expect(cluster.nodes[leader]?.role == .follower)
    }

    @Test func anUnfinishedTransferIsAbandonedAfterAnElectionTimeout() throws {
        var cluster = TestCluster(voters: 3)
        let leader = try cluster.electLeader()
        let target = try #require(cluster.ids.first { $0 != leader })
        cluster.drop = { $0.to == target || $0.from == target }
        try cluster.with(leader) { try $0.transferLeadership(to: target) }
        cluster.tick(12)
        #expect(cluster.leader == leader)
        try cluster.with(leader) { _ = try $0.propose([1]) }
    }

    @Test func proposalsWithoutAKnownLeaderAreRefused() throws {
        var cluster = TestCluster(voters: 3)
        let leader = try cluster.electLeader()
        let follower = try #require(cluster.ids.first { $0 != leader })
        cluster.isolated = [follower]
        cluster.tick(40, only: [follower])
        #expect(cluster.nodes[follower]?.leader == nil)
        #expect(throws: RaftError.self) { try cluster.with(follower) { _ = try $0.propose([1]) } }
    }
}
