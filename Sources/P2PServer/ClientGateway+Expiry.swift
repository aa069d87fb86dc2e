import ClientProtocol
import Mailbox
import MessageModel
import P2PCore

/// Expiry (docs/DELIVERY.md, "Expiry"): the time to live a relayed message gets here, the
/// recipient's claims, and the leader's sweep that proposes to expire what is due.
extension ClientGateway {
    /// The expiry to store `message` with: its own, else this server's default (never for a
    /// message its sender offered directly first), cut to this server's maximum.
    func expiry(of message: MailMessage, now: UInt64) -> UInt64? {
        guard !message.isSkip else { return nil }
        var expiry = message.expiresAtMillis
        if expiry == nil, !message.offeredDirectly, let ttl = configuration.defaultMessageTimeToLive {
            expiry = now &+ max(.zero, ttl).wholeMilliseconds
        }
        if let expiresAt = expiry, let cap = configuration.maximumMessageTimeToLive {
            expiry = min(expiresAt, now &+ max(.zero, cap).wholeMilliseconds)
        }
        return expiry
    }

    /// Commits `client`'s claim of `id` and says what the cluster decided.
    func claim(_ id: MessageID, for client: NodeID) async -> ClaimResult {
        switch try? await raft.commit(.claim(recipient: client, id: id), budget: .seconds(2)) {
        case .claimed: .claimed
        case .expired: .expired
        case .skipped, .alreadyDelivered: .skipped
        default: .unavailable
        }
    }

    /// On the leader, every ``ServerConfiguration/expirySweepInterval``: proposes to expire the
    /// unclaimed messages whose expiry passed by this server's clock. Each `expire` carries that
    /// reading, so every replica applies it alike; a claim committed first makes it a no-op.
    func sweepExpired() async {
        var found: ReplicatedMailboxes?
        while found == nil, !Task.isCancelled { found = await raft.replicaLatch.wait(timeout: .seconds(60)) }
        guard let replica = found else { return }
        while (try? await Task.sleep(for: configuration.expirySweepInterval)) != nil {
            guard await replica.leader == id else { continue }
            let now = Self.nowMillis()
            guard let due = try? replica.mailboxes.dueExpirations(atMillis: now), !due.isEmpty else { continue }
            await withDiscardingTaskGroup { group in
                for (recipient, messageID) in due {
                    group.addTask { _ = try? await self.raft.commit(.expire(recipient: recipient, id: messageID, atMillis: now), budget: .seconds(2)) }
                }
            }
        }
    }
}
