import P2PCore
import Testing
@testable import Raft

/// Which readies a driver must sync (``RaftReady/mustSync``, etcd's `MustSync`).
@Suite struct SyncTests {
    /// New entries, a new term and a vote are synced; a ready that only moves the commit index
    /// and hands out committed entries is not (the server commits it without the meta flush).
    @Test func onlyEntriesATermOrAVoteMustBeSynced() throws {
        var cluster = TestCluster(voters: 3)
        let leader = try cluster.electLeader()
        let electing = cluster.readies.values.flatMap { $0 }.filter(\.changesTermOrVote)
        #expect(electing.contains { $0.entries.isEmpty }, "a vote granted without entries")
        #expect(electing.allSatisfy { $0.mustSync })

        cluster.readies = [:]
        _ = try cluster.with(leader) { try $0.propose([[7]]) }
        cluster.tick(2)
        let readies = cluster.readies.values.flatMap { $0 }
        let appending = readies.filter { !$0.entries.isEmpty }
        let onlyApplying = readies.filter { $0.entries.isEmpty && !$0.committedEntries.isEmpty }
        #expect(!appending.isEmpty)
        #expect(appending.allSatisfy { $0.mustSync })
        #expect(!onlyApplying.isEmpty)
        for ready in onlyApplying {
            #expect(ready.hardState != nil, "the commit index moved")
            #expect(!ready.changesTermOrVote)
            #expect(!ready.mustSync)
        }
        #expect(readies.filter { $0.hardState != nil && $0.entries.isEmpty }.allSatisfy { !$0.mustSync })
    }

    /// A truncation or a snapshot is synced even without new entries.
    @Test func aTruncationOrASnapshotMustBeSynced() {
        var truncating = RaftReady()
        truncating.truncateFrom = 5
        #expect(truncating.mustSync)
        var compacting = RaftReady()
        compacting.snapshot = Snapshot(metadata: SnapshotMetadata(index: 3, term: 1, membership: Membership(voters: [])), data: [])
        #expect(compacting.mustSync)
        #expect(!RaftReady().mustSync)
    }
}
