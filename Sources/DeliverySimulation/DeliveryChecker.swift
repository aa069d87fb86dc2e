import Delivery
import Mailbox
import MessageModel
import P2PCore

/// The path a delivered copy came by.
enum DeliveryPath {
    case direct
    case relay
}

/// The delivery guarantees of docs/DELIVERY.md, checked against everything the simulated world
/// did: what the applications sent, what the state machine decided, what the applications got.
struct DeliveryChecker {
    struct Failure: Error {
        let guarantee: String
        let detail: String
    }

    private struct Pair: Hashable {
        let sender: NodeID
        let recipient: NodeID
    }

    /// Messages that entered a sender's outbox: their one payload.
    private(set) var accepted: [OutboxKey: MailMessage] = [:]
    private var delivered: Set<OutboxKey> = []
    private var deliveredThrough: [Pair: UInt64] = [:]
    /// Ids the state machine holds (or held) a skip record for: the recipient may pass over them.
    private var skipped: Set<OutboxKey> = []
    /// Ids the state machine refused (mailbox full, sender quota, storage full).
    private var refused: Set<OutboxKey> = []
    private var purged: Set<OutboxKey> = []
    /// Ids the state machine expired (each also a skip), and those whose sender was told so.
    private var expired: Set<OutboxKey> = []
    private var toldExpired: Set<OutboxKey> = []
    /// Ids of which a copy was offered beyond the state machine's decision: on a direct link, or
    /// stored as a message in a mailbox (the residual window of refused messages).
    private var copies: Set<OutboxKey> = []
    private var appliedThrough: UInt64 = 0
    private(set) var summary = DeliverySummary()

    mutating func sent() { summary.sent += 1 }

    mutating func accepted(_ message: MailMessage) {
        guard accepted[OutboxKey(message)] == nil else { return }
        accepted[OutboxKey(message)] = message
        summary.accepted += 1
    }

    mutating func offeredDirectly(_ key: OutboxKey) { copies.insert(key) }

    /// A committed entry, seen when the first server applies it.
    mutating func applied(_ entry: SimulatedServer.Applied) throws(Failure) {
        guard entry.index > appliedThrough else { return }
        appliedThrough = entry.index
        switch (entry.command, entry.outcome) {
        case (.enqueue(let mail), .stored):
            let message = Keyed(mail)
            if message.isSkip {
                if !skipped.contains(message.id) { summary.skips += 1 }
                skipped.insert(message.id)
            } else {
                copies.insert(message.id)
            }
        case (.enqueue(let mail), .mailboxFull):
            let message = Keyed(mail)
            if !message.isSkip, !refused.contains(message.id) { summary.refused += 1 }
            if !skipped.contains(message.id) { summary.skips += 1 }
            refused.insert(message.id)
            skipped.insert(message.id)
        case (.enqueue(let mail), .senderQuotaExceeded), (.enqueue(let mail), .storageFull):
            let message = Keyed(mail)
            if !message.isSkip, !refused.contains(message.id) {
                summary.refused += 1
                refused.insert(message.id)
            }
        case (.enqueue(let mail), .expired):
            try expire(OutboxKey(mail))
        case (.expire(let recipient, let id, _), .expired):
            try expire(OutboxKey(recipient: recipient, id: id))
        case (.purge, _):
            for id in entry.purged where !purged.contains(id) {
                purged.insert(id)
                skipped.insert(id)
                summary.purged += 1
                summary.skips += 1
            }
        default:
            break
        }
    }

    /// The application of `recipient` got `message`.
    mutating func handedOver(_ message: MailMessage, to recipient: NodeID, path: DeliveryPath) throws(Failure) {
        let id = OutboxKey(recipient: recipient, id: message.id)
        let pair = Pair(sender: message.id.sender, recipient: recipient)
        guard message.recipient == recipient else {
            throw Failure(guarantee: "nothing delivered that was not sent", detail: "\(describe(id)) for another recipient was handed over")
        }
        guard let original = accepted[id], original.payload == message.payload, original.recipient == recipient else {
            throw Failure(guarantee: "nothing delivered that was not sent", detail: "\(describe(id)) was handed over but never sent with that payload")
        }
        guard !delivered.contains(id) else {
            throw Failure(guarantee: "exactly once", detail: "\(describe(id)) was handed over a second time (now via \(path))")
        }
        guard !expired.contains(id) else {
            throw Failure(guarantee: "delivered xor expired", detail: "\(describe(id)) was handed over after the cluster expired it")
        }
        let through = deliveredThrough[pair] ?? 0
        let sequence = message.id.sequence
        guard sequence > through else {
            throw Failure(guarantee: "FIFO per (sender, recipient)", detail: "\(describe(id)) handed over after sequence \(through)")
        }
        if let missing = (through + 1..<sequence).first(where: {
            !skipped.contains(OutboxKey(recipient: recipient, id: MessageID(sender: message.id.sender, sequence: $0)))
        }) {
            throw Failure(guarantee: "FIFO per (sender, recipient)",
                          detail: "\(describe(id)) handed over while sequence \(missing) was neither delivered nor skipped")
        }
        if refused.contains(id), !copies.contains(id) {
            throw Failure(guarantee: "refused messages are not delivered",
                          detail: "\(describe(id)) was refused and no copy of it was ever offered, yet it was handed over")
        }
        delivered.insert(id)
        deliveredThrough[pair] = sequence
        summary.delivered += 1
        switch path {
        case .direct: summary.direct += 1
        case .relay: summary.relayed += 1
        }
    }

    /// The client recorded `message` delivered in its ledger, then crashed before handing it to
    /// the application: the application never sees it, and it is not offered again. Counted
    /// (``DeliverySummary/handOverWindow``) and, with `strict`, a violation.
    mutating func lostAtHandOver(_ message: MailMessage, strict: Bool) throws(Failure) {
        let key = OutboxKey(message)
        if expired.contains(key) {
            throw Failure(guarantee: "delivered xor expired", detail: "\(describe(key)) was recorded delivered after the cluster expired it")
        }
        if strict {
            throw Failure(guarantee: "every accepted message delivered",
                          detail: "\(describe(key)) was recorded delivered, then its recipient crashed before handing it over")
        }
        guard !delivered.contains(key) else { return }
        delivered.insert(key)
        let pair = Pair(sender: key.id.sender, recipient: key.recipient)
        deliveredThrough[pair] = max(deliveredThrough[pair] ?? 0, key.id.sequence)
        summary.handOverWindow += 1
    }

    /// The state machine decided that `key` expired: it must not have been delivered, ever.
    private mutating func expire(_ key: OutboxKey) throws(Failure) {
        guard !expired.contains(key) else { return }
        if delivered.contains(key) {
            throw Failure(guarantee: "delivered xor expired", detail: "\(describe(key)) expired after it was handed over")
        }
        expired.insert(key)
        if !skipped.contains(key) { summary.skips += 1 }
        skipped.insert(key)
        summary.expired += 1
    }

    /// A sender's `send` of `key` ended: delivered (`expired == false`) or expired. Expired
    /// only on the cluster's decision, and never for a message that was (or will be) delivered.
    mutating func senderTold(_ key: OutboxKey, expired told: Bool) throws(Failure) {
        if told {
            guard expired.contains(key), !delivered.contains(key) else {
                throw Failure(guarantee: "delivered xor expired", detail: "the sender of \(describe(key)) was told it expired, but the cluster did not expire it")
            }
            toldExpired.insert(key)
            summary.toldExpired += 1
        } else if expired.contains(key) {
            throw Failure(guarantee: "delivered xor expired", detail: "the sender of \(describe(key)) was told it was delivered, but it expired")
        }
    }

    /// Accepted messages neither delivered nor legitimately passed over (refused or purged).
    func undelivered() -> [OutboxKey] {
        accepted.keys.filter { !delivered.contains($0) && !skipped.contains($0) }.sorted()
    }

    mutating func countFault() { summary.faults += 1 }

    mutating func setShape(servers: Int, clients: Int) {
        summary.servers = servers
        summary.clients = clients
    }

    mutating func drained(at tick: Int) { summary.drainedAt = tick }

    var names: [NodeID: String] = [:]

    func describe(_ key: OutboxKey) -> String {
        "message \(names[key.id.sender] ?? "?")→\(names[key.recipient] ?? "?")#\(key.id.sequence)"
    }
}

/// The parts of a mail message the checker keys on.
private struct Keyed {
    let id: OutboxKey
    let isSkip: Bool

    init(_ message: MailMessage) {
        id = OutboxKey(message)
        isSkip = message.isSkip
    }
}
