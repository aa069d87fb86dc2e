import Foundation
import LMDB
import P2PCore
import Raft
import Testing
import TestSupport
@testable import RaftStorage

@Suite struct RaftPersistenceTests {
    /// A single-node cluster persists every ready through LMDB; after a "crash" the node
    /// restarts from the store with the same term, vote, log, snapshot and membership.
    @Test func aNodeRestartsFromWhatItsReadiesPersisted() throws {
        let scratch = TemporaryDirectory("raftpersist")
        let path = scratch.path
        let id = NodeID.random()
        var configuration = RaftConfiguration(id: id, randomSeed: 1)
        configuration.electionTicks = 5
        var node = RaftNode.bootstrap(configuration: configuration, voters: [id])
        do {
            let environment = try Environment(path: path)
            let store = try RaftLogStore(environment: environment)
            #expect(try store.loadPersistedState() == nil)
            func drain() throws { try store.persist(node.ready()) }
            try drain()
            while node.role != .leader {
                node.tick()
                try drain()
            }
            for i in 0..<30 {
                try node.propose(Array("command \(i)".utf8))
                try drain()
            }
            node.compact(snapshotData: Array("state".utf8))
            try drain()
            try node.propose(Array("after snapshot".utf8))
            try drain()
            environment.close()
        }
        let store = try RaftLogStore(environment: try Environment(path: path))
        let persisted = try #require(try store.loadPersistedState())
        #expect(persisted.hardState.term == node.term)
        #expect(persisted.hardState.vote == id)
        #expect(persisted.hardState.commit == node.commitIndex)
        #expect(persisted.snapshot?.data == Array("state".utf8))
        #expect(persisted.snapshot?.metadata.membership.voters == [id])
        #expect(persisted.entries.last?.data == Array("after snapshot".utf8))

        let restarted = RaftNode(configuration: configuration, restoring: persisted)
        #expect(restarted.lastIndex == node.lastIndex)
        #expect(restarted.term == node.term)
        #expect(restarted.membership == node.membership)
        #expect(restarted.snapshotIndex == node.snapshotIndex)
    }
}
