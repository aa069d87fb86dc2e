import MessageModel
import P2PCore

extension ClientCore {
    /// Orders `message` among those of its sender. A duplicate of a delivered one is
    /// acknowledged again on the path this copy came by; a copy of one already queued is dropped.
    mutating func received(_ message: MailMessage, route: Route) {
        guard message.recipient == me else { return }
        let sender = message.id.sender
        let sequence = message.id.sequence
        let through = inbox.deliveredThrough[sender] ?? 0
        if sequence <= through {
            // Already handed to the application: the acknowledgement was lost. Send it again.
            return acknowledge(message.id, route: route)
        }
        // `through` < `sequence` here, so the next one exists (the ledger may claim any watermark).
        let expected = inbox.nextExpected[sender] ?? through + 1
        guard sequence >= expected else { return }  // already queued for the application
        // Ahead of a gap the buffer is bounded (the copy comes again later); the awaited one always fits.
        guard sequence == expected || (inbox.early[sender]?.count ?? 0) < configuration.earlyLimit else { return }
        // The same message may arrive on both paths: the first copy is kept.
        if inbox.early[sender]?[sequence] == nil { inbox.early[sender, default: [:]][sequence] = Arrival(message: message, route: route) }
        var next = expected
        while let arrival = inbox.early[sender]?.removeValue(forKey: next) {
            inbox.ready.append(arrival)
            next = next.saturatingAdding(1)
        }
        if inbox.early[sender]?.isEmpty == true { inbox.early[sender] = nil }
        inbox.nextExpected[sender] = next
        pumpInbox()
    }

    /// Moves the delivery along: hands durably delivered messages to a waiting receiver (then
    /// acknowledges them), and asks the ledger to record the next ones in one batch — skips at
    /// once (they reach no one), messages only as many as the application waits for.
    mutating func pumpInbox() {
        if !inbox.handing.isEmpty {
            guard inbox.wanted > 0 else { return }
            let count = min(inbox.wanted, inbox.handing.count)
            let handing = Array(inbox.handing.prefix(count))
            inbox.handing.removeFirst(count)
            handOver(handing)
        }
        guard inbox.marking == nil, inbox.handing.isEmpty else { return }
        var batch: UInt64?
        var count = 0
        var messages = 0
        var index = inbox.readyHead
        while index < inbox.ready.count, count < Self.maximumDeliveryBatch {
            let arrival = inbox.ready[index]
            if !arrival.message.isSkip {
                guard messages < inbox.wanted else { break }
                // A message with an expiry is delivered only once the cluster granted its claim
                // (asked for the front message only: the others wait for their turn).
                if arrival.message.expiresAtMillis != nil, inbox.claimed != arrival.message.id {
                    if count == 0 { askClaim(arrival) }
                    break
                }
                messages += 1
            }
            batch = write(.markDelivered(arrival.message.id))
            count += 1
            index += 1
        }
        if let batch {
            inbox.marking = batch
            inbox.markingCount = count
        }
    }

    /// Whether the ledger is recording deliveries for the waiting receiver: once it has them,
    /// those messages count as delivered and must reach the application (a receive cancelled
    /// meanwhile still takes them; docs/DELIVERY.md).
    public var isRecordingDelivery: Bool { inbox.marking != nil }

    /// Most deliveries recorded in one ledger batch.
    static let maximumDeliveryBatch = 4096

    /// The deliveries recorded in `batch` are durable: skips are acknowledged, messages go to the
    /// waiting receiver together (or wait for the next one).
    mutating func deliveryPersisted(_ batch: UInt64) {
        guard inbox.marking == batch else { return }
        let count = inbox.markingCount
        inbox.marking = nil
        inbox.markingCount = 0
        var delivered: [Arrival] = []
        for _ in 0..<count {
            guard let arrival = inbox.front else { break }
            inbox.popFront()
            inbox.deliveredThrough[arrival.message.id.sender] = arrival.message.id.sequence
            if arrival.message.isSkip {
                acknowledge(arrival.message.id, route: arrival.route)
            } else {
                delivered.append(arrival)
            }
        }
        inbox.handing.append(contentsOf: delivered)
        pumpInbox()
    }

    /// The deliveries recorded in `batch` could not be written: they are tried again at the next
    /// ``Input/receive``.
    mutating func deliveryFailed(_ batch: UInt64) {
        guard inbox.marking == batch else { return }
        inbox.marking = nil
        inbox.markingCount = 0
    }

    /// Hands `arrivals` to the waiting receiver in this one step, then acknowledges them.
    private mutating func handOver(_ arrivals: [Arrival]) {
        inbox.wanted = 0
        for arrival in arrivals {
            emit(.handOver(arrival.message))
            acknowledge(arrival.message.id, route: arrival.route)
        }
    }

    // MARK: Claims (docs/DELIVERY.md, "Expiry")

    /// Asks the cluster to claim the front message (it carries an expiry): the server that
    /// pushed it if it is still connected, else the subscribed one, else any.
    private mutating func askClaim(_ front: Arrival) {
        guard inbox.claiming == nil else { return }
        inbox.claimEpoch += 1
        inbox.claiming = inbox.claimEpoch
        var server: NodeID?
        if case .relay(let pusher) = front.route, connected.contains(pusher) { server = pusher }
        if let chosen = server ?? subscribed.flatMap({ connected.contains($0) ? $0 : nil }) ?? connected.min() {
            emit(.claim(front.message.id, to: chosen))
            timers.schedule(.claim(epoch: inbox.claimEpoch), at: now &+ configuration.attemptTimeout)
        } else {
            timers.schedule(.claim(epoch: inbox.claimEpoch), at: now &+ configuration.longestRetry)
        }
    }

    /// The cluster's word on a claim: granted (deliver), expired or skipped (pass over, as a
    /// skip), or none (ask again after a pause).
    mutating func claimAnswered(_ id: MessageID, from server: NodeID, _ result: ClaimResult?) {
        guard inbox.claiming != nil, let front = inbox.front, front.message.id == id, inbox.claimed != id else { return }
        switch result {
        case .claimed:
            inbox.claiming = nil
            inbox.claimed = id
        case .expired, .skipped:
            inbox.claiming = nil
            inbox.passOverFront()
        case .unavailable, nil:
            inbox.claimEpoch += 1
            inbox.claiming = inbox.claimEpoch
            timers.schedule(.claim(epoch: inbox.claimEpoch), at: now &+ configuration.longestRetry)
            return
        }
        pumpInbox()
    }

    /// A claim went unanswered, or its pause is over: ask again.
    mutating func claimTimerFired(epoch: UInt64) {
        guard inbox.claiming == epoch else { return }
        inbox.claiming = nil
        pumpInbox()
    }
}
