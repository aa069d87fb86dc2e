import ClientProtocol
import Delivery
import Mailbox
import MessageModel
import P2PCore
import Raft

extension SimulatedServer {
    /// How long a forwarded command or a local proposal is waited for before the client hears
    /// "unavailable" (it retries; commands are idempotent by message id).
    static let commitPatience = 40

    /// A request from a client on its link to this server (the link is the session).
    func handle(_ request: ClientRequest, from client: NodeID) throws {
        guard raft != nil else { return }
        if sessions[client] == nil { sessions[client] = PushSession(window: window, patience: patience) }
        switch request {
        case .send(let request, let message):
            guard message.id.sender == client else { return }
            // The clock is the servers' logical one (a message carries its sender's expiry).
            let stamped = MailMessage(
                id: message.id, recipient: message.recipient, payload: message.isSkip ? [] : message.payload,
                enqueuedAtMillis: millis, isSkip: message.isSkip, expiresAtMillis: message.expiresAtMillis
            )
            try commit(.enqueue(stamped), for: .client(client, request: request))
        case .acknowledge(let messageID):
            try push(.acknowledgementReceived(messageID), to: client)
            // As the real server: only what this replica still holds is proposed.
            if (try? store.holdsItem(messageID, for: client)) != false {
                try commit(.acknowledge(recipient: client, id: messageID), for: nil)
            }
        case .claim(let request, let messageID):
            try commit(.claim(recipient: client, id: messageID), for: .claim(client, request: request))
        case .subscribe(let on):
            try push(.subscribe(on), to: client)
        case .batch(let requests):
            for request in requests { try handle(request, from: client) }
        case .hello, .query, .connect, .directPeers, .pathReport:
            break
        }
    }

    /// The client's link died (partition or client crash): its session and push window go.
    func dropSession(_ client: NodeID) {
        sessions[client] = nil
    }

    /// An operator's command (e.g. a purge), proposed here if this server leads.
    func admin(_ command: MailboxCommand) throws -> Bool {
        guard raft?.role == .leader else { return false }
        try commit(command, for: nil)
        return true
    }

    /// Proposes `command` if this server leads, else passes it to the leader it knows.
    func commit(_ command: MailboxCommand, for waiter: Waiter?) throws {
        guard var node = raft else { return }
        if node.role == .leader {
            do {
                let index = try node.propose(command.encoded())
                raft = node
                // A leader's proposal always gets an index (only a follower's is forwarded).
                if let waiter, let index { waiters[index] = (node.term, waiter, now + Self.commitPatience) }
                try drive()
            } catch {
                raft = node
                if let waiter { answer(waiter, nil) }
            }
        } else if let leader = node.leader, leader != id {
            nextForward += 1
            if let waiter { forwards[nextForward] = (waiter, now + Self.commitPatience) }
            outgoing.append((leader, .server(.forward(request: nextForward, command: command, reply: waiter != nil))))
        } else if let waiter {
            answer(waiter, nil)
        }
    }

    func handle(_ frame: ServerFrame, from server: NodeID) throws {
        guard raft != nil else { return }
        switch frame {
        case .forward(let request, let command, let reply):
            // Passed on once at most: a server that no longer leads answers "retry".
            if raft?.role == .leader {
                try commit(command, for: reply ? .forward(server, request: request) : nil)
            } else if reply {
                outgoing.append((server, .server(.forwardReply(request: request, outcome: nil))))
            }
        case .forwardReply(let request, let outcome):
            if let waiter = forwards.removeValue(forKey: request)?.waiter { answer(waiter, outcome) }
        }
    }

    /// Answers a waiter with a committed outcome, or `nil`: not known to have committed.
    func answer(_ waiter: Waiter, _ outcome: MailboxOutcome?) {
        switch waiter {
        case .forward(let server, let request):
            outgoing.append((server, .server(.forwardReply(request: request, outcome: outcome))))
        case .client(let client, let request):
            guard sessions[client] != nil else { return }
            outgoing.append((client, .push(.sendResult(request: request, Self.sendResult(outcome)))))
        case .claim(let client, let request):
            guard sessions[client] != nil else { return }
            outgoing.append((client, .push(.claimResult(request: request, Self.claimResult(outcome)))))
        }
    }

    /// The claim result of a claim's outcome (as the server's gateway maps it).
    static func claimResult(_ outcome: MailboxOutcome?) -> ClaimResult {
        switch outcome {
        case .claimed: .claimed
        case .expired: .expired
        case .skipped, .alreadyDelivered: .skipped
        default: .unavailable
        }
    }

    /// This server's logical clock in milliseconds (what it stamps and expires by).
    var millis: UInt64 { UInt64(now) * Self.tickMillis }

    /// Every few ticks, on the leader: proposes to expire what is due (as the gateway's sweep does).
    func sweepExpired() throws {
        guard raft?.role == .leader, now % 5 == 0 else { return }
        for (recipient, messageID) in try store.dueExpirations(atMillis: millis, limit: 32) {
            try commit(.expire(recipient: recipient, id: messageID, atMillis: millis), for: nil)
        }
    }

    /// The client-facing result of an enqueue's outcome (as the server's relay maps it).
    static func sendResult(_ outcome: MailboxOutcome?) -> SendResult {
        switch outcome {
        case .stored: .stored
        case .alreadyDelivered: .alreadyDelivered
        case .mailboxFull: .mailboxFull
        case .senderQuotaExceeded(let limit): .quotaExceeded(limit: limit)
        case .storageFull(let limit): .storageFull(limit: limit)
        case .unknownRecipient: .unknownRecipient
        case .expired: .expired
        case nil: .unavailable(reason: "not committed")
        case let other?: .unavailable(reason: "unexpected outcome \(other)")
        }
    }
}
