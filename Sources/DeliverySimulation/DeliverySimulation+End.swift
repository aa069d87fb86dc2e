import Delivery
import Mailbox
import MessageModel
import P2PCore
import Raft

extension DeliverySimulation {
    /// Faults stop and heal, every node comes back, the applications stop sending; then the
    /// world runs until everything drained (or the quiet period's bound).
    func quietPeriod() throws {
        faultsEnabled = false
        blocked.removeAll()
        log("quiet period: faults heal, everyone restarts")
        for server in servers where !server.isUp { try restart(server) }
        for client in clients where !client.isUp { try restart(client) }
        for tick in 1...options.quietSteps {
            try advance()
            if tick % 10 == 0, try isDrained() {
                checker.drained(at: tick)
                log("drained after \(tick) quiet ticks")
                return
            }
        }
    }

    /// Whether every accepted message reached its application (or was legitimately passed
    /// over), every outbox and inbox is empty, every mailbox too, and every replica caught up.
    private func isDrained() throws -> Bool {
        guard checker.undelivered().isEmpty, clients.allSatisfy(\.isDrained) else { return false }
        let applied = try servers.map { try $0.store.applied().index }
        guard let leader = servers.first(where: { $0.raft?.role == .leader })?.raft,
              applied.allSatisfy({ $0 == leader.commitIndex }) else { return false }
        for client in clients where try !servers[0].store.messages(for: client.id, limit: 1).isEmpty { return false }
        return true
    }

    /// The guarantees that hold once everything drained.
    func checkEnd() throws {
        let undelivered = checker.undelivered()
        if let first = undelivered.first {
            throw DeliveryChecker.Failure(
                guarantee: "every accepted message delivered",
                detail: "\(undelivered.count) accepted message(s) never delivered nor skipped after \(options.quietSteps) quiet ticks, e.g. \(checker.describe(first)); "
                    + (try explain(first))
            )
        }
        for client in clients where !client.isDrained {
            throw DeliveryChecker.Failure(
                guarantee: "everything drains",
                detail: "c\(client.index) still has \(client.ledger.outbox.count) outbox entries"
            )
        }
        for server in servers {
            for client in clients {
                let left = try server.store.messages(for: client.id, limit: 1000)
                if let first = left.first {
                    throw DeliveryChecker.Failure(
                        guarantee: "every mailbox drained",
                        detail: "s\(server.index) still holds \(left.count) record(s) for c\(client.index), e.g. \(checker.describe(OutboxKey(first.message)))\(first.message.isSkip ? " (skip)" : "")"
                    )
                }
            }
        }
        let digests = try servers.map { try $0.store.digest() }
        if let first = digests.first, let other = digests.firstIndex(where: { $0 != first }) {
            throw DeliveryChecker.Failure(
                guarantee: "replicas identical",
                detail: "s0 has digest \(first.digest.prefix(12)) at \(first.index), s\(other) has \(digests[other].digest.prefix(12)) at \(digests[other].index)"
            )
        }
    }

    /// Where an undelivered message stands: the recipient's watermark, the sender's outbox entry,
    /// and what the recipient's mailbox holds from that sender.
    private func explain(_ key: OutboxKey) throws -> String {
        let sender = names[key.id.sender] ?? "?"
        let recipient = clients.first { $0.id == key.recipient }
        let through = recipient?.ledger.deliveredThrough[key.id.sender] ?? 0
        let entry = clients.first { $0.id == key.id.sender }?.ledger.outbox[key]
        let held = try servers[0].store.messages(for: key.recipient, limit: 1000)
            .filter { $0.message.id.sender == key.id.sender }
            .map { "#\($0.message.id.sequence)\($0.message.isSkip ? "(skip)" : "")" }
        return "\(names[key.recipient] ?? "?") delivered \(sender)'s through #\(through); "
            + "\(sender)'s outbox holds it \(entry.map { $0.isSkip ? "as an owed skip" : "as a message" } ?? "no more"); "
            + "the mailbox holds from \(sender): [\(held.joined(separator: " "))] "
            + "(per-sender quota \(servers[0].store.limits.maximumMessagesPerSender)); "
            + "servers: " + (try servers.map { server in
                let session = server.sessions[key.recipient].map { $0.subscribed ? "subscribed" : "session" } ?? "no session"
                return "s\(server.index) applied \(try server.store.applied().index) \(server.raft?.role == .leader ? "leader " : "")\(session)"
            }.joined(separator: ", "))
    }
}
