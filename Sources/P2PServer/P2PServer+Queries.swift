import Mailbox
import MessageModel
import P2PCore
import Synchronization
import Raft

/// What the cluster knows about one client.
public struct ClientInfo: Equatable, Sendable {
    /// The replicated registry entry: addresses, attached servers, last seen, relay accounting.
    public let record: ClientRecord
    /// The client's mailbox right now (as applied on this server).
    public let mailbox: MailboxStats
    /// The client's public UDP mapping as this server observed it (`nil`: not observed yet).
    public let udpAddress: String?

    public var id: NodeID { record.id }
    public var wanAddresses: [String] { record.wanAddresses }
    public var lanAddresses: [String] { record.lanAddresses }
    public var listenAddress: String { record.listenAddress }
    public var listenPort: UInt16 { record.listenPort }
    public var isOnline: Bool { record.isOnline }
    public var attachedServers: [NodeID] { record.attachedServers }
}

extension P2PServer {
    /// Why a query could not be answered.
    public enum QueryError: Error, Equatable, Sendable {
        /// The cluster has not formed yet (this server has no replica).
        case clusterNotFormed
    }

    /// The leader this server knows of and every member (voters and learners) of the cluster.
    public func servers() async throws -> (leader: NodeID?, members: [NodeID]) {
        guard let replica else { throw QueryError.clusterNotFormed }
        return (await replica.leader, await replica.membership.all.sorted())
    }

    /// Every client known to the cluster, online or not (servers' own endpoints excluded).
    public func clients() throws -> [NodeID] {
        guard let replica else { throw QueryError.clusterNotFormed }
        return try Self.clientRecords(replica.mailboxes).map(\.id)
    }

    /// The registry without the servers' endpoints (servers are listed by `servers()`).
    static func clientRecords(_ mailboxes: MailboxStore) throws -> [ClientRecord] {
        let servers = try mailboxes.servers()
        return try mailboxes.clients().filter { servers[$0.id] == nil }
    }

    /// One page of the registry without the servers' endpoints: up to `limit` records after
    /// `after`, and whether more follow (see ``Mailbox/MailboxStore/clients(after:limit:excluding:)``).
    static func clientRecords(_ mailboxes: MailboxStore, after: NodeID?, limit: Int) throws -> (records: [ClientRecord], more: Bool) {
        try mailboxes.clients(after: after, limit: limit, excluding: Set(try mailboxes.servers().keys))
    }

    /// What the cluster knows about client `id` (`nil`: never registered).
    public func clientInfo(_ id: NodeID) throws -> ClientInfo? {
        guard let replica else { throw QueryError.clusterNotFormed }
        guard let record = try replica.mailboxes.client(id) else { return nil }
        return ClientInfo(record: record, mailbox: try replica.mailboxes.stats(for: id), udpAddress: gateway.mappings.mapping(of: id))
    }
}
