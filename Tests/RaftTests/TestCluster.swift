import P2PCore
import Synchronization
@testable import Raft

/// A persisted log in memory that counts its reads, standing in for `RaftLogStore`.
final class MemoryLogStorage: RaftLogStorage {
    private let state = Mutex<(entries: [LogIndex: LogEntry], reads: Int)>(([:], 0))

    var reads: Int { state.withLock { $0.reads } }

    /// Step 1 of `ready`'s contract (entries and truncation; snapshots are not kept).
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

/// A tiny synchronous network for scripted Raft scenarios: every ready's messages are delivered
/// at once, except to or from isolated nodes and those the filter drops.
struct TestCluster {
    var nodes: [NodeID: RaftNode] = [:]
    var ids: [NodeID]
    var isolated: Set<NodeID> = []
    var drop: (RaftMessage) -> Bool = { _ in false }
    /// Every message delivered, in order.
    var delivered: [RaftMessage] = []
    /// Every ready each node produced, in order.
    var readies: [NodeID: [RaftReady]] = [:]
    /// Each node's persisted log, for clusters whose nodes evict payloads.
    var storages: [NodeID: MemoryLogStorage] = [:]

    static func id(_ n: UInt8) -> NodeID {
        NodeID(bytes: [UInt8](repeating: 0, count: 15) + [n]) ?? .random()
    }

    static func configuration(_ id: NodeID, seed: UInt64 = 0) -> RaftConfiguration {
        var configuration = RaftConfiguration(id: id, randomSeed: seed)
        configuration.electionTicks = 10
        return configuration
    }

    /// A new cluster of `count` bootstrapped voters; with `cachedLogBytes`, each keeps only that
    /// many payload bytes of applied entries in memory and reads the rest from its storage.
    init(voters count: Int, cachedLogBytes: Int? = nil) {
        ids = (1...count).map { Self.id(UInt8($0)) }
        for (offset, id) in ids.enumerated() {
            var configuration = Self.configuration(id, seed: UInt64(offset + 1))
            if let cachedLogBytes {
                configuration.maxCachedLogBytes = cachedLogBytes
                storages[id] = MemoryLogStorage()
            }
            nodes[id] = RaftNode.bootstrap(configuration: configuration, voters: Set(ids), storage: storages[id])
        }
        settle()
    }

    /// A cluster of nodes restored with explicit logs (Figure 7/8 style).
    init(logs: [(NodeID, term: Term, entries: [Term])], voters: Set<NodeID>) {
        ids = logs.map(\.0)
        let snapshot = Snapshot(metadata: SnapshotMetadata(index: 0, term: 0, membership: Membership(voters: voters)), data: [])
        for (offset, (id, term, terms)) in logs.enumerated() {
            let entries = terms.enumerated().map { LogEntry(index: LogIndex($0.offset + 1), term: $0.element, data: [UInt8($0.offset)]) }
            let persisted = PersistedState(hardState: HardState(term: term), snapshot: snapshot, entries: entries)
            nodes[id] = RaftNode(configuration: Self.configuration(id, seed: UInt64(offset + 1)), restoring: persisted)
        }
    }

    mutating func with<R>(_ id: NodeID, _ body: (inout RaftNode) throws -> R) rethrows -> R {
        var node = nodes[id] ?? RaftNode(configuration: Self.configuration(id))
        defer { nodes[id] = node }
        return try body(&node)
    }

    /// Delivers messages until none are left.
    mutating func settle(maxRounds: Int = 10_000) {
        for _ in 0..<maxRounds {
            var messages: [RaftMessage] = []
            for id in ids.sorted() {
                guard var node = nodes[id] else { continue }
                let ready = node.ready()
                storages[id]?.persist(ready)
                nodes[id] = node
                if !ready.isEmpty { readies[id, default: []].append(ready) }
                messages += ready.messages
            }
            if messages.isEmpty { return }
            for message in messages {
                guard !isolated.contains(message.from), !isolated.contains(message.to), !drop(message),
                      nodes[message.to] != nil else { continue }
                delivered.append(message)
                nodes[message.to]?.step(message)
            }
        }
    }

    /// Ticks every node `times` times, settling after each round.
    mutating func tick(_ times: Int = 1, only: [NodeID]? = nil) {
        for _ in 0..<times {
            for id in (only ?? ids).sorted() { nodes[id]?.tick() }
            settle()
        }
    }

    struct NoLeader: Error {}

    /// Ticks until some node leads (at most `limit` rounds); returns it.
    @discardableResult
    mutating func electLeader(limit: Int = 200) throws -> NodeID {
        for _ in 0..<limit {
            if let leader = leader { return leader }
            tick()
        }
        guard let leader else { throw NoLeader() }
        return leader
    }

    var leader: NodeID? {
        ids.filter { nodes[$0]?.role == .leader && !isolated.contains($0) }.max { (nodes[$0]?.term ?? 0) < (nodes[$1]?.term ?? 0) }
    }

    func logTerms(_ id: NodeID) -> [Term] {
        guard let node = nodes[id] else { return [] }
        return (node.firstIndex...max(node.firstIndex, node.lastIndex)).compactMap { node.term(at: $0) }.prefix(Int(node.lastIndex - node.firstIndex + 1)).map { $0 }
    }
}
