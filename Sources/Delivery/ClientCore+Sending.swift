import MessageModel
import P2PCore

extension ClientCore {
    mutating func send(_ token: SendToken, to recipient: NodeID, payload: [UInt8], timeout: UInt64, expiresAt: UInt64?) {
        let batch = write(.prepare(recipient: recipient, payload: payload, expiresAt: expiresAt))
        let (deadline, overflow) = now.addingReportingOverflow(timeout)
        preparing[batch, default: []].append(Preparing(
            token: token, recipient: recipient, payload: payload, deadline: overflow ? .max : deadline, expiresAt: expiresAt
        ))
    }

    /// Batch `batch` is durable: its prepared messages now belong to the outbox and leave; a
    /// delivery it recorded reaches the application.
    mutating func persisted(_ batch: UInt64, prepared ids: [MessageID]) {
        if let requests = preparing.removeValue(forKey: batch) {
            for (request, id) in zip(requests, ids) {
                let key = OutboxKey(recipient: request.recipient, id: id)
                var entry = Outgoing(
                    message: MailMessage(
                        id: id, recipient: request.recipient, payload: request.payload, enqueuedAtMillis: 0, expiresAtMillis: request.expiresAt
                    ),
                    backoff: backoff(forSkip: false)
                )
                entry.waiters[request.token] = request.deadline
                outbox[key] = entry
                timers.schedule(.sendDeadline(key, request.token), at: request.deadline)
                startAttempt(key)
            }
            // A ledger that assigned fewer ids than asked took nothing for the rest.
            for request in requests.dropFirst(ids.count) { emit(.finishSend(request.token, .failure(.notPersisted))) }
        }
        deliveryPersisted(batch)
    }

    mutating func persistFailed(_ batch: UInt64) {
        for request in preparing.removeValue(forKey: batch) ?? [] { emit(.finishSend(request.token, .failure(.notPersisted))) }
        deliveryFailed(batch)
    }

    // MARK: Attempts

    /// Offers `key` directly when a direct path is up and was not tried yet, else through a
    /// server. Never directly: an owed skip (a recipient refuses skips on a direct link), a
    /// message with an expiry (its fate is decided in the cluster), a message already offered
    /// to a server (the stored copy may have got a default expiry).
    mutating func startAttempt(_ key: OutboxKey) {
        guard var entry = outbox[key], entry.fate == .pending else { return }
        if !entry.message.isSkip, entry.message.expiresAtMillis == nil, !entry.triedDirect, !entry.relayOffered, directPeers.contains(key.recipient) {
            entry.triedDirect = true
            entry.attempt = .direct
            entry.epoch += 1
            outbox[key] = entry
            emit(.sendDirect(entry.message))
            timers.schedule(.attempt(key, epoch: entry.epoch), at: now &+ configuration.attemptTimeout)
            return
        }
        startRelay(key)
    }

    mutating func startRelay(_ key: OutboxKey) {
        guard var entry = outbox[key], entry.fate == .pending else { return }
        guard let server = pickServer(for: key.recipient, retry: entry.relayOffered) else { return scheduleRetry(key) }
        entry.attempt = .relay(server)
        entry.epoch += 1
        entry.relayOffered = true
        outbox[key] = entry
        emit(.relay(entry.message.with(offeredDirectly: entry.triedDirect), to: server))
        timers.schedule(.attempt(key, epoch: entry.epoch), at: now &+ configuration.attemptTimeout)
    }

    mutating func scheduleRetry(_ key: OutboxKey) {
        guard var entry = outbox[key], entry.fate == .pending else { return }
        entry.attempt = .waiting
        entry.epoch += 1
        let pause = entry.backoff.next().wholeMilliseconds
        outbox[key] = entry
        timers.schedule(.retry(key, epoch: entry.epoch), at: now &+ pause)
    }

    mutating func attemptTimedOut(_ key: OutboxKey, epoch: UInt64) {
        guard let entry = outbox[key], entry.epoch == epoch else { return }
        switch entry.attempt {
        case .direct: startRelay(key)  // a late direct acknowledgement still completes it
        case .relay: scheduleRetry(key)
        case .waiting: break
        }
    }

    mutating func retryDue(_ key: OutboxKey, epoch: UInt64) {
        guard let entry = outbox[key], entry.epoch == epoch, entry.attempt == .waiting else { return }
        startAttempt(key)
    }

    mutating func directFailed(_ key: OutboxKey) {
        guard outbox[key]?.attempt == .direct else { return }
        startRelay(key)
    }

    mutating func relayFailed(_ key: OutboxKey, server: NodeID) {
        guard outbox[key]?.attempt == .relay(server) else { return }
        scheduleRetry(key)
    }

    // MARK: Answers

    /// Applies a server's answer to `key` (late ones too: every answer is a fact about the id).
    mutating func relayAnswered(_ key: OutboxKey, from server: NodeID, _ result: SendResult) {
        guard let entry = outbox[key] else { return }
        if entry.message.isSkip { return owedSkipAnswered(key, from: server, result) }
        switch result {
        case .stored:
            guard entry.fate == .pending else { return }
            stored(key)
        case .alreadyDelivered:
            complete(key, with: .success(key.id))
        case .mailboxFull:
            complete(key, with: .failure(.mailboxFull(key.recipient)))
        case .unknownRecipient:
            complete(key, with: .failure(.unknownRecipient(key.recipient)))
        case .tooLarge(let limit):
            complete(key, with: .failure(.tooLarge(size: entry.message.payload.count, limit: limit)))
        case .quotaExceeded(let limit):
            oweSkip(key, .quotaExceeded(key.recipient, limit: limit), answeredBy: server)
        case .storageFull(let limit):
            oweSkip(key, .storageFull(limit: limit), answeredBy: server)
        case .expired:
            complete(key, with: .failure(.expired(key.id)))
        case .unavailable:
            relayFailed(key, server: server)
        }
    }

    /// Any answer that says the owed skip's id is filled settles it.
    private mutating func owedSkipAnswered(_ key: OutboxKey, from server: NodeID, _ result: SendResult) {
        switch result {
        case .stored, .alreadyDelivered, .mailboxFull, .unknownRecipient, .tooLarge, .expired:
            complete(key, with: .success(key.id))
        case .quotaExceeded, .storageFull, .unavailable:
            relayFailed(key, server: server)
        }
    }

    /// The cluster committed the message: retries stop, the outbox entry goes, and the core
    /// follows it only while a `send` waits for its acknowledgement.
    private mutating func stored(_ key: OutboxKey) {
        guard var entry = outbox[key] else { return }
        entry.fate = .stored
        entry.attempt = .waiting
        entry.epoch += 1
        outbox[key] = entry
        resolve(key)
        if entry.waiters.isEmpty { outbox[key] = nil }
    }

    /// Nothing was stored for `key`, not even a skip, but its sequence number is taken: the
    /// message is given up (its `send`s end with `failure`, "not accepted") and an owed skip
    /// takes its place in the outbox, relayed until a mailbox takes it.
    private mutating func oweSkip(_ key: OutboxKey, _ failure: SendFailure, answeredBy server: NodeID) {
        guard var entry = outbox[key], entry.fate == .pending, entry.inOutbox else { return }
        let waiters = entry.waiters.keys.sorted()
        entry.waiters = [:]
        entry.message = entry.message.skip()
        entry.backoff.maximum = .milliseconds(configuration.longestSkipRetry)
        outbox[key] = entry
        write(.oweSkip(key))
        for token in waiters { emit(.finishSend(token, .failure(failure))) }
        relayFailed(key, server: server)
    }

    /// The recipient acknowledged `key`.
    mutating func delivered(_ key: OutboxKey, direct: Bool) {
        guard outbox[key] != nil else { return }
        if direct { deliveries.direct += 1 } else { deliveries.relayed += 1 }
        complete(key, with: .success(key.id))
    }

    /// The cluster expired `key` (a committed decision: the recipient never claimed it, so never
    /// delivered it). An owed skip's id is filled by the expiry's skip.
    mutating func expired(_ key: OutboxKey) {
        guard let entry = outbox[key] else { return }
        complete(key, with: entry.message.isSkip ? .success(key.id) : .failure(.expired(key.id)))
    }

    /// `key` has its final fate: its `send`s end and the core forgets it.
    mutating func complete(_ key: OutboxKey, with result: Result<MessageID, SendFailure>) {
        resolve(key)
        guard let entry = outbox.removeValue(forKey: key) else { return }
        for token in entry.waiters.keys.sorted() { emit(.finishSend(token, result)) }
    }

    private mutating func resolve(_ key: OutboxKey) {
        guard outbox[key]?.inOutbox == true else { return }
        outbox[key]?.inOutbox = false
        write(.resolve(key))
    }

    /// A `send`'s deadline passed: it learns where its message stands.
    mutating func sendDeadlinePassed(_ key: OutboxKey, _ token: SendToken) {
        guard let entry = outbox[key], entry.waiters[token] != nil else { return }
        outbox[key]?.waiters[token] = nil
        switch entry.fate {
        case .stored:
            emit(.finishSend(token, .failure(.stored(key.id))))
            // The cluster owns it now; nothing is left for this client to do.
            if outbox[key]?.waiters.isEmpty == true { outbox[key] = nil }
        case .pending:
            emit(.finishSend(token, .failure(.pending(key.id))))
        }
    }
}
