import P2PCore
import Testing
@testable import Raft

@Suite struct LogStorageTests {
    /// Three voters; two commit 200 entries of 1 KiB while the third is cut off, and the leader's
    /// applied payloads leave memory; reconnected, the third catches up from the leader's storage.
    @Test func evictedPayloadsAreReadBackForALaggingFollower() throws {
        var cluster = TestCluster(voters: 3, cachedLogBytes: 4096)
        let leader = try cluster.electLeader()
        let lagging = try #require(cluster.ids.first { $0 != leader })
        cluster.isolated = [lagging]
        for n in 0..<200 {
            _ = try cluster.with(leader) { try $0.propose([UInt8](repeating: UInt8(truncatingIfNeeded: n), count: 1024)) }
            cluster.settle()
        }
        let committed = try #require(cluster.nodes[leader]).commitIndex
        #expect(committed >= 200)
        // Applied payloads beyond the budget left memory.
        #expect(try #require(cluster.nodes[leader]).log.cachedPayloadBytes <= 4096 + 1024 + 24)
        let readsBefore = try #require(cluster.storages[leader]).reads
        cluster.isolated = []
        cluster.tick(20)
        let follower = try #require(cluster.nodes[lagging])
        #expect(follower.lastIndex == cluster.nodes[leader]?.lastIndex)
        #expect(follower.commitIndex == cluster.nodes[leader]?.commitIndex)
        #expect(try #require(cluster.storages[leader]).reads > readsBefore)
        for index in [LogIndex(2), 100, 201] {
            #expect(follower.entry(at: index) == cluster.nodes[leader]?.entry(at: index))
        }
    }

    @Test func withoutStorageEveryPayloadStays() throws {
        var log = RaftLog()
        log.append((1...10).map { LogEntry(index: $0, term: 1, data: [UInt8](repeating: 1, count: 100)) })
        log.markDurable()
        log.evict(appliedThrough: 10, keepBytes: 0)
        #expect(log.cachedPayloadBytes == 10 * 124)
        #expect(log.entries(from: 1, through: 10).count == 10)
    }
}
