import P2PCore
import Testing
@testable import Raft

/// ``RaftReady/needsDurability``: only a new commit index may be stored without a sync.
@Suite struct ReadyDurabilityTests {
    /// A cluster that elected a leader and committed a few proposals, with every ready kept.
    private static func busyCluster() throws -> TestCluster {
        var cluster = TestCluster(voters: 3)
        let leader = try cluster.electLeader()
        for n in 0..<5 {
            _ = try cluster.with(leader) { try $0.propose([UInt8(n)]) }
            cluster.settle()
        }
        cluster.tick(3)
        return cluster
    }

    @Test func aReadyThatChangesTheTermOrVoteOrWritesTheLogNeedsDurability() throws {
        let cluster = try Self.busyCluster()
        for id in cluster.ids {
            var last = HardState()
            for ready in cluster.readies[id] ?? [] {
                let writesLog = !ready.entries.isEmpty || ready.truncateFrom != nil || ready.snapshot != nil
                var changesTermOrVote = false
                if let state = ready.hardState {
                    changesTermOrVote = state.term != last.term || state.vote != last.vote
                    last = state
                }
                #expect(ready.needsDurability == (writesLog || changesTermOrVote), "ready of \(id): \(ready)")
                for message in ready.messages {
                    if case .voteResponse(true, false) = message.body {
                        #expect(ready.needsDurability, "a granted vote is sent only once it is durable")
                    }
                }
            }
        }
    }

    @Test func followersLearningTheCommitIndexMakeReadiesThatNeedNoSync() throws {
        let cluster = try Self.busyCluster()
        let leader = try #require(cluster.leader)
        let commitOnly = cluster.ids.filter { $0 != leader }.flatMap { cluster.readies[$0] ?? [] }.filter {
            $0.hardState != nil && !$0.committedEntries.isEmpty && !$0.needsDurability
        }
        #expect(!commitOnly.isEmpty, "followers apply what committed in readies that only move the commit index")
    }

    @Test func aNodeThatLostItsUnsyncedCommitIndexLearnsItAgainAndAppliesEverything() throws {
        var cluster = try Self.busyCluster()
        let leader = try #require(cluster.leader)
        let follower = try #require(cluster.ids.first { $0 != leader })
        let node = try #require(cluster.nodes[follower])
        let committed = node.commitIndex
        #expect(committed >= 6)
        let entries = (1...node.lastIndex).compactMap { node.entry(at: $0) }
        // What a crash leaves when the syncs of its commit-only readies were undone: the log and
        // the term and vote are durable, the commit index is the one of the last durable ready.
        let restored = RaftNode(
            configuration: TestCluster.configuration(follower, seed: 9),
            restoring: PersistedState(hardState: HardState(term: node.term, vote: node.vote, commit: 1), snapshot: nil, entries: entries)
        )
        cluster.nodes[follower] = restored
        cluster.readies[follower] = []
        cluster.tick(3)
        let after = try #require(cluster.nodes[follower])
        #expect(after.commitIndex >= committed)
        let applied = (cluster.readies[follower] ?? []).flatMap(\.committedEntries).map(\.index)
        #expect(applied == applied.sorted() && Set(applied).isSuperset(of: 2...committed), "applied again, in order: \(applied)")
        #expect(cluster.nodes[leader]?.role == .leader, "the restart did not disturb the leader")
    }

    @Test func aTruncationOrASnapshotNeedsDurabilityEvenWithoutEntries() {
        var truncating = RaftReady()
        truncating.truncateFrom = 5
        #expect(truncating.needsDurability)
        var compacting = RaftReady()
        compacting.snapshot = Snapshot(metadata: SnapshotMetadata(index: 3, term: 1, membership: Membership(voters: [])), data: [])
        #expect(compacting.needsDurability)
        var committing = RaftReady()
        committing.hardState = HardState(term: 2, commit: 7)
        #expect(!committing.needsDurability)
        #expect(!RaftReady().needsDurability)
    }
}
