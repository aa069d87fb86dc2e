import P2PCore
import Raft

/// One node of the simulated cluster: its Raft value while up, what it persisted, and its
/// durable state machine (the applied proposal ids, as a mailbox store would keep them).
struct SimulatedNode {
    let id: NodeID
    var raft: RaftNode?
    var persisted = PersistedState(hardState: HardState(), snapshot: nil, entries: [])
    /// `persisted.entries`, as the node's ``RaftLogStorage``.
    let storage = SimulatedLogStorage()
    /// Stopped for good after its removal from the cluster committed.
    var removed = false
    var stateMachineApplied: LogIndex = 0
    var stateMachine: [LogIndex: UInt64] = [:]
    /// The term in which this node was last seen as leader, to detect new leaderships.
    var leaderTerm: Term?
    /// What survives a system crash: everything up to the last ready that had to be synced
    /// (``RaftReady/needsDurability``; a synced write makes the unsynced ones before it durable too),
    /// the state machine included, as when a driver applies in the same transaction.
    var durable = PersistedState(hardState: HardState(), snapshot: nil, entries: [])
    var durableStateMachine: (applied: LogIndex, state: [LogIndex: UInt64]) = (0, [:])

    /// Stops the node; with `losingUnsynced` (a system crash), what it wrote without a sync
    /// since its last synced ready is lost.
    mutating func crash(losingUnsynced: Bool) {
        raft = nil
        guard losingUnsynced else { return }
        persisted = durable
        storage.store(durable.entries)
        (stateMachineApplied, stateMachine) = durableStateMachine
    }

    var isUp: Bool { raft != nil }

    func encodedStateMachine() -> [UInt8] {
        var writer = ByteWriter()
        writer.write(array: stateMachine.keys.sorted()) { writer, index in
            writer.write(index)
            writer.write(stateMachine[index] ?? 0)
        }
        return writer.bytes
    }

    static func decodeStateMachine(_ bytes: [UInt8]) throws(DecodingError) -> [LogIndex: UInt64] {
        var reader = ByteReader(bytes)
        let pairs = try reader.readArray("state", limit: 1 << 24) { r throws(DecodingError) in
            (try r.readUInt64("index"), try r.readUInt64("proposal"))
        }
        return Dictionary(pairs, uniquingKeysWith: { first, _ in first })
    }
}
