import MessageModel
import Mailbox
import P2PCore
import Synchronization

/// Relaying: clients' messages into their recipients' mailboxes, and their acknowledgements out,
/// a burst at a time (one Raft proposal for what a link sent together).
extension ClientGateway {
    /// Most payload bytes committed in one proposal (a larger message goes alone).
    static let relayBatchBytes = 1 << 20

    /// Relays what a client sent together and answers each send on its link.
    func relay(_ sends: [(request: UInt64, message: MailMessage)], for session: ClientSession) async {
        // Before anything commits: a receipt may come back as soon as it has.
        await session.awaitReceipts(sends.compactMap { send in
            send.message.isSkip ? nil : DeliveryReceipt(recipient: send.message.recipient, id: send.message.id)
        })
        let results = await relay(sends.map(\.message))
        await session.finishSends(zip(sends, results).map { send, result in
            (send.request, DeliveryReceipt(recipient: send.message.recipient, id: send.message.id), result)
        })
    }

    /// Commits clients' messages into their recipients' mailboxes, in proposals of up to
    /// ``relayBatchBytes`` of payload (committed concurrently); one result per message, in order.
    /// A skip the client sends (for an id of its own that was refused without a trace: quota or
    /// storage full) carries no payload.
    func relay(_ messages: [MailMessage]) async -> [SendResult] {
        var results = [SendResult?](repeating: nil, count: messages.count)
        var chunks: [[(index: Int, message: MailMessage)]] = []
        var chunkBytes = 0
        let now = Self.nowMillis()
        for (index, message) in messages.enumerated() {
            guard message.payload.count <= configuration.maximumMessageSize else {
                results[index] = .tooLarge(limit: configuration.maximumMessageSize)
                continue
            }
            let stamped = MailMessage(
                id: message.id, recipient: message.recipient, payload: message.isSkip ? [] : message.payload,
                enqueuedAtMillis: now, isSkip: message.isSkip, expiresAtMillis: expiry(of: message, now: now)
            )
            if chunks.isEmpty || chunkBytes + stamped.payload.count > Self.relayBatchBytes || chunks[chunks.count - 1].count >= MailboxCommand.maximumBatch {
                chunks.append([])
                chunkBytes = 0
            }
            chunks[chunks.count - 1].append((index, stamped))
            chunkBytes += stamped.payload.count
        }
        // Usually one proposal: committed on this task, without a child task per batch.
        let committed: [(Int, SendResult)]
        if chunks.count == 1 {
            committed = await commit(chunks[0])
        } else {
            committed = await withTaskGroup(of: [(Int, SendResult)].self) { group in
                for chunk in chunks {
                    group.addTask { await self.commit(chunk) }
                }
                var all: [(Int, SendResult)] = []
                for await results in group { all += results }
                return all
            }
        }
        for (index, result) in committed { results[index] = result }
        return results.map { $0 ?? .unavailable(reason: "not relayed") }
    }

    /// Commits one proposal's worth of stamped messages.
    private func commit(_ chunk: [(index: Int, message: MailMessage)]) async -> [(Int, SendResult)] {
        let outcomes: [MailboxOutcome]
        do {
            if chunk.count == 1 {
                outcomes = [try await raft.commit(.enqueue(chunk[0].message), budget: .seconds(2))]
            } else {
                let outcome = try await raft.commit(.batch(chunk.map { .enqueue($0.message) }), budget: .seconds(2))
                guard case .batch(let list) = outcome, list.count == chunk.count else {
                    return chunk.map { ($0.index, .unavailable(reason: "unexpected outcome \(outcome)")) }
                }
                outcomes = list
            }
        } catch {
            return chunk.map { ($0.index, .unavailable(reason: "\(error)")) }
        }
        return zip(chunk, outcomes).map { entry, outcome in (entry.index, result(of: outcome, for: entry.message)) }
    }

    /// What the sender hears of its message's outcome (counting what was relayed).
    private func result(of outcome: MailboxOutcome, for message: MailMessage) -> SendResult {
        switch outcome {
        case .stored:
            if !message.isSkip {
                relayCounters.withLock {
                    $0.messages += 1
                    $0.bytes += UInt64(message.payload.count)
                }
                context.metrics.relayed(bytes: message.payload.count)
            }
            return .stored
        case .alreadyDelivered: return .alreadyDelivered
        case .mailboxFull: return .mailboxFull
        case .senderQuotaExceeded(let limit): return .quotaExceeded(limit: limit)
        case .storageFull(let limit): return .storageFull(limit: limit)
        case .unknownRecipient: return .unknownRecipient
        case .expired: return .expired
        case let other: return .unavailable(reason: "unexpected outcome \(other)")
        }
    }

    /// Commits a client's acknowledgements of its own mail, a batch per proposal.
    func commitAcknowledgements(_ ids: [MessageID], of client: NodeID) async {
        var start = 0
        while start < ids.count {
            let end = min(start + MailboxCommand.maximumBatch, ids.count)
            let commands = ids[start..<end].map { MailboxCommand.acknowledge(recipient: client, id: $0) }
            _ = try? await raft.commit(commands.count == 1 ? commands[0] : .batch(commands), budget: .seconds(5))
            start = end
        }
    }
}
