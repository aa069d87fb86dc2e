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
