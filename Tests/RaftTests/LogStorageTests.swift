import P2PCore
import Synchronization
import Testing
@testable import Raft

/// A persisted log in memory that counts reads, standing in for `RaftLogStore`.
private final class CountingStorage: RaftLogStorage {
    private let state = Mutex<(entries: [LogIndex: LogEntry], reads: Int)>(([:], 0))

    var reads: Int { state.withLock { $0.reads } }

    func persist(_ ready: RaftReady) {
        state.withLock { state in
            if let from = ready.truncateFrom { state.entries = state.entries.filter { $0.key < from } }
            for entry in ready.entries { state.entries[entry.index] = entry }
        }
    }

    func entries(from: LogIndex, through: LogIndex, maxBytes: Int) -> [LogEntry] {
        state.withLock { state in
            state.reads += 1
            var result: [LogEntry] = []
            var bytes = 0
            for index in from...through {
                guard let entry = state.entries[index], result.isEmpty || bytes + entry.size <= maxBytes else { break }
                result.append(entry)
                bytes += entry.size
            }
            return result
        }
    }
}

@Suite struct LogStorageTests {
    /// Three voters; two commit 200 entries of 1 KiB while the third is cut off, and the leader's
    /// applied payloads leave memory; reconnected, the third catches up from the leader's storage.
    @Test func evictedPayloadsAreReadBackForALaggingFollower() throws {
        let ids = (1...3).map { TestCluster.id(UInt8($0)) }
        let storages = Dictionary(uniqueKeysWithValues: ids.map { ($0, CountingStorage()) })
        var nodes: [NodeID: RaftNode] = [:]
        for (offset, id) in ids.enumerated() {
            var configuration = TestCluster.configuration(id, seed: UInt64(offset + 1))
            configuration.maxCachedLogBytes = 4096
            nodes[id] = RaftNode.bootstrap(configuration: configuration, voters: Set(ids), storage: storages[id])
        }
        var cut: Set<NodeID> = [ids[2]]
        func settle() {
            for _ in 0..<10_000 {
                var messages: [RaftMessage] = []
                for id in ids {
                    guard var node = nodes[id] else { continue }
                    let ready = node.ready()
                    storages[id]?.persist(ready)
                    nodes[id] = node
                    messages += ready.messages
                }
                let deliverable = messages.filter { !cut.contains($0.from) && !cut.contains($0.to) }
                if deliverable.isEmpty { return }
                for message in deliverable { nodes[message.to]?.step(message) }
            }
        }
        // Elect the first node.
        for _ in 0..<40 where nodes[ids[0]]?.role != .leader {
            nodes[ids[0]]?.tick()
            settle()
        }
        #expect(nodes[ids[0]]?.role == .leader)
        for n in 0..<200 {
            _ = try nodes[ids[0]]?.propose([UInt8](repeating: UInt8(truncatingIfNeeded: n), count: 1024))
            settle()
        }
        let leader = try #require(nodes[ids[0]])
        #expect(leader.commitIndex >= 200)
        // Applied payloads beyond the budget left memory.
        #expect(leader.log.cachedPayloadBytes <= 4096 + 1024 + 24)
        let readsBefore = storages[ids[0]]?.reads ?? 0
        cut = []
        for _ in 0..<20 {
            nodes[ids[0]]?.tick()
            settle()
        }
        let follower = try #require(nodes[ids[2]])
        #expect(follower.lastIndex == leader.lastIndex)
        #expect(follower.commitIndex == leader.commitIndex)
        #expect((storages[ids[0]]?.reads ?? 0) > readsBefore)
        for index in [LogIndex(2), 100, 201] {
            #expect(follower.entry(at: index) == nodes[ids[0]]?.entry(at: index))
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
