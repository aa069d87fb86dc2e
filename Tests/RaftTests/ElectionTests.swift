import P2PCore
import Testing
@testable import Raft

@Suite struct ElectionTests {
    @Test func aSingleNodeClusterElectsItselfAndCommitsAlone() throws {
        var cluster = TestCluster(voters: 1)
        let leader = try cluster.electLeader()
        let index = try #require(try cluster.with(leader) { try $0.propose(Array("x".utf8)) })
        cluster.settle()
        #expect(cluster.nodes[leader]?.commitIndex == index)
    }

    @Test func threeNodesElectExactlyOneLeaderAndReplicate() throws {
        var cluster = TestCluster(voters: 3)
        let leader = try cluster.electLeader()
        #expect(cluster.ids.filter { cluster.nodes[$0]?.role == .leader }.count == 1)
        let index = try #require(try cluster.with(leader) { try $0.propose(Array("hello".utf8)) })
        cluster.tick(2)
        for id in cluster.ids {
            #expect(cluster.nodes[id]?.commitIndex ?? 0 >= index)
            #expect(cluster.nodes[id]?.entry(at: index)?.data == Array("hello".utf8))
            #expect(cluster.nodes[id]?.leader == leader)
        }
    }

    @Test func theVoteIsPersistedInTheSameReadyAsTheResponse() throws {
        var cluster = TestCluster(voters: 3)
        try cluster.electLeader()
        for id in cluster.ids {
            for ready in cluster.readies[id] ?? [] {
                for message in ready.messages {
                    guard case .voteResponse(true, false) = message.body else { continue }
                    #expect(ready.hardState?.vote == message.to, "a granted vote must be persisted before it is sent")
                }
            }
        }
    }

    @Test func preVoteKeepsAnIsolatedNodeFromInflatingTerms() throws {
        var cluster = TestCluster(voters: 3)
        let leader = try cluster.electLeader()
        let term = try #require(cluster.nodes[leader]?.term)
        let follower = try #require(cluster.ids.first { $0 != leader })
        cluster.isolated = [follower]
        cluster.tick(100)
        #expect(cluster.nodes[follower]?.term == term, "pre-vote rounds must not raise the term")
        cluster.isolated = []
        cluster.tick(5)
        #expect(cluster.leader == leader)
        #expect(cluster.nodes[leader]?.term == term, "the rejoining node must not disrupt the leader")
    }

    @Test func withoutPreVoteAnIsolatedNodeDoesInflateItsTerm() throws {
        // The counterpart of the test above, so that it can fail.
        var cluster = TestCluster(voters: 3)
        for (offset, id) in cluster.ids.enumerated() {
            var configuration = TestCluster.configuration(id, seed: UInt64(offset + 11))
            configuration.preVote = false
            cluster.nodes[id] = RaftNode.bootstrap(configuration: configuration, voters: Set(cluster.ids))
        }
        let leader = try cluster.electLeader()
        let term = try #require(cluster.nodes[leader]?.term)
        let follower = try #require(cluster.ids.first { $0 != leader })
        cluster.isolated = [follower]
        cluster.tick(100)
        #expect((cluster.nodes[follower]?.term ?? 0) > term)
    }

    @Test func checkQuorumMakesAnIsolatedLeaderStepDown() throws {
        var cluster = TestCluster(voters: 3)
        let leader = try cluster.electLeader()
        cluster.isolated = [leader]
        cluster.tick(25, only: [leader])
        #expect(cluster.nodes[leader]?.role == .follower)
        #expect(throws: RaftError.self) { try cluster.with(leader) { try $0.propose([1]) } }
    }

    @Test func followersIgnoreVoteRequestsWhileTheirLeaderIsAlive() throws {
        var cluster = TestCluster(voters: 3)
        let leader = try cluster.electLeader()
        let term = try #require(cluster.nodes[leader]?.term)
        let follower = try #require(cluster.ids.first { $0 != leader })
        let intruder = TestCluster.id(9)
        cluster.with(follower) {
            $0.step(RaftMessage(from: intruder, to: follower, term: term + 5, body: .requestVote(lastIndex: 100, lastTerm: term + 4, preVote: false, transfer: false)))
        }
        #expect(cluster.nodes[follower]?.term == term, "a lease holder does not even adopt the higher term")
        #expect(cluster.nodes[follower]?.vote != intruder)
    }

    @Test func aCandidateWithAStaleLogGetsNoVote() throws {
        let a = TestCluster.id(1), b = TestCluster.id(2), c = TestCluster.id(3)
        var cluster = TestCluster(logs: [(a, 2, [1]), (b, 2, [1, 2]), (c, 2, [1, 2])], voters: [a, b, c])
        cluster.with(a) { $0.campaign(preVote: false, transfer: false) }
        cluster.settle()
        #expect(cluster.nodes[a]?.role != .leader)
        #expect(cluster.nodes[b]?.vote != a)
        #expect(cluster.nodes[c]?.vote != a)
    }
}
