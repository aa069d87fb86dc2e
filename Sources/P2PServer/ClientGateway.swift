import ClientProtocol
import Foundation
import Logging
import Mailbox
import MessageModel
import P2PCore
import ServiceLifecycle
import Synchronization
import Transport

/// The server's side of its clients: their links and sessions, what they may ask and how fast
/// (per-link token buckets and in-flight caps, docs/SECURITY.md), pushing mail and receipts
/// as the replica applies them, and direct-path help (UDP observations and introductions).
///
/// It owns the client sessions, the observed UDP mappings, and the relay counters.
final class ClientGateway: Service, Sendable {
    let context: ServerContext
    var id: NodeID { context.id }
    var logger: Logger { context.logger }
    var configuration: ServerConfiguration { context.configuration }
    let raft: RaftDriver
    let mesh: PeerMesh
    let sessions = ClientSessions()
    let mappings: ObservedMappings
    /// What clients reported about their paths to peers (diagnostics, memory only).
    let pathReports: PathReports
    /// Client links accepted by the listener, with the client's hello, to serve.
    let accepted = AsyncStream<(Link, ClientHello)>.makeStream()
    /// Messages (and their payload bytes) this server accepted from clients into mailboxes.
    let relayCounters = Mutex<(messages: UInt64, bytes: UInt64)>((0, 0))
    /// Receipts on their way to the other servers senders are attached to.
    let receiptOutbox: ReceiptOutbox

    init(context: ServerContext, raft: RaftDriver, mesh: PeerMesh, mappings: ObservedMappings) {
        self.context = context
        self.raft = raft
        self.mesh = mesh
        self.mappings = mappings
        receiptOutbox = ReceiptOutbox { message, server in try? mesh.send(message, to: server) }
        pathReports = PathReports(server: context.id)
    }

    /// Runs until cancelled or shut down, then closes every client link.
    func run() async {
        raft.applied.handle { [weak self] changes in self?.applied(changes) }
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask {
                    // One task per client link, for its life: a TaskSet, not a task group (see TaskSet).
                    await TaskSet.forEach(self.accepted.stream) { link, hello in await self.serve(link, hello) }
                }
                if let udp = self.mesh.udp {
                    group.addTask { await self.recordObservations(udp) }
                    group.addTask { await self.logObserveRejections(udp) }
                }
                group.addTask { await self.redeliverStale() }
                group.addTask { await self.sweepExpired() }
            }
        }
        accepted.continuation.finish()
        raft.applied.finish()
        sessions.closeAll()
    }

    /// Pushes again what a client left unacknowledged for too long: only sessions with pushes
    /// in flight (or paused) are visited, so idle clients cost nothing here.
    private func redeliverStale() async {
        while (try? await Task.sleep(for: .seconds(1))) != nil {
            for session in sessions.needingTicks { await session.rewindIfStale(patience: configuration.redeliveryPatience) }
        }
    }

    /// Wakes the pumps of recipients with new mail and tells senders their messages were
    /// delivered, or expired.
    func applied(_ changes: [ReplicatedMailboxes.AppliedChange]) {
        var newMail: Set<NodeID> = []
        var acknowledged: [NodeID: [MessageID]] = [:]
        var receipts: [DeliveryReceipt] = []
        var expiries: [NodeID: [(NodeID, MessageID)]] = [:]
        for change in changes {
            switch change {
            case .snapshotRestored:
                for session in sessions.all { Task { await session.rewind() } }
            case .command(.enqueue(let message), .stored), .command(.enqueue(let message), .mailboxFull),
                 .command(.enqueue(let message), .expired):
                // A refused message leaves a skip record, which is pushed like a message.
                newMail.insert(message.recipient)
            case .command(.acknowledge(let recipient, let messageID), let outcome):
                acknowledged[recipient, default: []].append(messageID)
                // A skip's acknowledgement delivered nothing: its sender must not hear "delivered".
                if outcome != .skipAcknowledged { receipts.append(DeliveryReceipt(recipient: recipient, id: messageID)) }
            case .command(.expire(let recipient, let messageID, _), .expired):
                expiries[messageID.sender, default: []].append((recipient, messageID))
            default:
                continue
            }
        }
        for (sender, list) in expiries {
            for session in sessions.sessions(of: sender) {
                Task { for (recipient, messageID) in list { await session.push(.expired(recipient: recipient, id: messageID)) } }
            }
        }
        for recipient in newMail {
            for session in sessions.sessions(of: recipient) { Task { await session.wake() } }
        }
        for (recipient, ids) in acknowledged {
            for session in sessions.sessions(of: recipient) {
                Task { await session.acknowledged(ids) }
            }
        }
        // Usually passed on already when the acknowledgement arrived; sessions say each once.
        if !receipts.isEmpty { pushReceipts(receipts) }
    }

    /// Hands an introduction a member made to one session of `client`.
    func introduce(_ introduction: Introduction, toClient client: NodeID) async {
        for session in sessions.sessions(of: client).prefix(1) { await session.push(.introduction(introduction)) }
    }

    static func nowMillis() -> UInt64 { UInt64(max(0, Date().timeIntervalSince1970 * 1000)) }
}
