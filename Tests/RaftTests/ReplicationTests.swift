import P2PCore
import Testing
@testable import Raft

@Suite struct ReplicationTests {
    static let leaderID = TestCluster.id(1)
    static let followerID = TestCluster.id(2)
    static let absentID = TestCluster.id(3)

    /// Makes `id` leader of the next term directly (as etcd's tests do), dropping its vote requests.
    static func forceLeader(_ cluster: inout TestCluster, _ id: NodeID) {
        cluster.with(id) { node in
            node.campaign(preVote: false, transfer: false)
            _ = node.ready()
            node.becomeLeader()
        }
    }

    static let figure7Leader: [Term] = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6]

    /// Raft paper, Figure 7: whatever the follower's log (cases a–f), the leader of term 8
    /// brings it to exactly its own.
    @Test(arguments: [
        ("a", [1, 1, 1, 4, 4, 5, 5, 6, 6] as [Term]),
        ("b", [1, 1, 1, 4]),
        ("c", [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6]),
        ("d", [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7]),
        ("e", [1, 1, 1, 4, 4, 4, 4]),
        ("f", [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3]),
    ])
    func figure7FollowersConvergeToTheLeadersLog(caseName: String, follower: [Term]) throws {
        let (l, f, x) = (Self.leaderID, Self.followerID, Self.absentID)
        var cluster = TestCluster(logs: [(l, 7, Self.figure7Leader), (f, follower.last ?? 0, follower), (x, 7, [])], voters: [l, f, x])
        cluster.isolated = [x]
        Self.forceLeader(&cluster, l)
        #expect(cluster.nodes[l]?.term == 8)
        cluster.tick(3)
        let leaderLog = cluster.logTerms(l)
        #expect(leaderLog == Self.figure7Leader + [8], "case \(caseName)")
        #expect(cluster.logTerms(f) == leaderLog, "case \(caseName)")
        #expect(cluster.nodes[f]?.commitIndex == 11, "case \(caseName): the term-8 no-op commits with L and F")
    }

    /// Raft paper, Figure 8: a leader must not commit an entry of an earlier term by counting
    /// replicas; it commits only once an entry of its own term reaches a majority.
    @Test func figure8PreviousTermEntriesAreNotCommittedByCounting() throws {
        let ids = (1...5).map { TestCluster.id(UInt8($0)) }
        var cluster = TestCluster(
            logs: [(ids[0], 3, [1, 2]), (ids[1], 3, [1, 2]), (ids[2], 3, [1]), (ids[3], 3, [1]), (ids[4], 3, [1, 3])],
            voters: Set(ids)
        )
        Self.forceLeader(&cluster, ids[0])  // term 4, appends its no-op at index 3
        let s1 = ids[0]
        cluster.with(s1) { node in
            _ = node.ready()
            // S2 and S3 acknowledge index 2 (term 2): a majority holds it, but it is not of term 4.
            node.step(RaftMessage(from: ids[1], to: s1, term: 4, body: .appendResponse(reject: false, index: 2, hintIndex: 0, hintTerm: 0)))
            node.step(RaftMessage(from: ids[2], to: s1, term: 4, body: .appendResponse(reject: false, index: 2, hintIndex: 0, hintTerm: 0)))
        }
        #expect(cluster.nodes[s1]?.commitIndex == 0)
        cluster.with(s1) { node in
            node.step(RaftMessage(from: ids[1], to: s1, term: 4, body: .appendResponse(reject: false, index: 3, hintIndex: 0, hintTerm: 0)))
        }
        #expect(cluster.nodes[s1]?.commitIndex == 0, "two of five hold index 3")
        cluster.with(s1) { node in
            node.step(RaftMessage(from: ids[2], to: s1, term: 4, body: .appendResponse(reject: false, index: 3, hintIndex: 0, hintTerm: 0)))
        }
        #expect(cluster.nodes[s1]?.commitIndex == 3, "the term-4 entry commits, and index 2 with it")
    }

    @Test func fastBacktrackingSkipsAWholeConflictingTermInOneRound() throws {
        let (l, f, x) = (Self.leaderID, Self.followerID, Self.absentID)
        let followerLog: [Term] = [1] + Array(repeating: 2, count: 60)
        let leaderLog: [Term] = [1] + Array(repeating: 3, count: 60)
        var cluster = TestCluster(logs: [(l, 3, leaderLog), (f, 2, followerLog), (x, 3, [])], voters: [l, f, x])
        cluster.isolated = [x]
        Self.forceLeader(&cluster, l)
        cluster.tick(3)
        #expect(cluster.logTerms(f) == cluster.logTerms(l))
        let rejections = cluster.delivered.filter {
            if case .appendResponse(true, _, _, _) = $0.body { return true } else { return false }
        }
        #expect(rejections.count <= 2, "one rejection per conflicting term, not one per entry (\(rejections.count))")
    }

    @Test func pipeliningKeepsSeveralAppendsInFlight() throws {
        var cluster = TestCluster(voters: 3)
        let leader = try cluster.electLeader()
        let follower = try #require(cluster.ids.first { $0 != leader })
        cluster.with(leader) { node in
            _ = node.ready()
            for i in 0..<1000 { _ = try? node.propose([UInt8(i % 256)]) }
        }
        let ready = cluster.with(leader) { $0.ready() }
        let appends = ready.messages.filter {
            guard $0.to == follower, case .appendEntries(_, _, let entries, _) = $0.body else { return false }
            return !entries.isEmpty
        }
        #expect(appends.count > 1, "a replicating follower gets several batches without waiting")
        #expect(appends.count <= TestCluster.configuration(leader).maxInflightMessages)
    }

    @Test func aLaggingFollowerCatchesUpThroughASnapshot() throws {
        var cluster = TestCluster(voters: 3)
        let leader = try cluster.electLeader()
        let lagging = try #require(cluster.ids.first { $0 != leader })
        cluster.isolated = [lagging]
        for i in 0..<50 {
            try cluster.with(leader) { _ = try $0.propose([UInt8(i)]) }
            cluster.settle()
        }
        cluster.with(leader) { $0.compact(snapshotData: Array("state at applied".utf8)) }
        cluster.settle()
        let leaderNode = try #require(cluster.nodes[leader])
        #expect(leaderNode.snapshotIndex > 40)
        cluster.isolated = []
        // Replication that stalled is detected within two election timeouts.
        cluster.tick(25)
        let installed = (cluster.readies[lagging] ?? []).compactMap(\.snapshotToApply)
        #expect(installed.first?.data == Array("state at applied".utf8))
        #expect(cluster.nodes[lagging]?.lastIndex == cluster.nodes[leader]?.lastIndex)
        #expect(cluster.nodes[lagging]?.commitIndex == cluster.nodes[leader]?.commitIndex)
    }
}
