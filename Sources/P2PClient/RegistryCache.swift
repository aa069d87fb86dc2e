import MessageModel
import P2PCore

/// The registry entries this client looked up. The registry only grows, so a client known once
/// stays known; its attached servers are as of the lookup (relay offers prefer them).
struct RegistryCache {
    private var records: [NodeID: ClientRecord] = [:]

    subscript(client: NodeID) -> ClientRecord? { records[client] }

    mutating func learn(_ record: ClientRecord) { records[record.id] = record }
}
