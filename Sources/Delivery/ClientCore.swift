import MessageModel
import P2PCore

/// A client's delivery protocol (docs/DELIVERY.md) as a deterministic state machine: inputs go
/// in through ``step(_:now:)`` with a logical time in milliseconds, and ``Directive``s come out
/// for the shell to carry out — ledger writes, frames to servers and direct peers, messages
/// for the application, the outcomes of `send`s. No I/O, no clocks, no hidden randomness (server
/// choice uses the seeded ``SplitMix64``), so a run replays exactly from its inputs.
///
/// Sending: each `send` gets an outbox entry (``LedgerOperation/prepare(recipient:payload:)``,
/// durable before the message leaves), is offered on the direct path first when one is up,
/// relayed through a server after ``Configuration/attemptTimeout`` without a direct
/// acknowledgement, and retried with backoff until it has a definitive fate; the `send` ends at
/// the acknowledgement, a refusal, or its deadline (`.stored`/`.pending`).
///
/// Receiving: per sender only `deliveredThrough + 1` is delivered; later ones wait in a bounded
/// buffer (first copy kept); a message reaches the application (``Directive/handOver(_:)``) only
/// after ``LedgerOperation/markDelivered(_:)`` is durable, and is acknowledged only after that,
/// on the path it came by. Duplicates are acknowledged again; skips advance silently.
///
/// Durability: the core waits for ``Input/persisted(batch:prepared:)`` before it relies on a
/// write (a prepared id, a delivery). A restarted client is a new core made from
/// ``LedgerContents``; it resumes every outbox entry at its first step.
public struct ClientCore: Sendable {
    /// Timings and bounds, in logical milliseconds.
    public struct Configuration: Equatable, Sendable {
        /// How long a direct attempt waits for its acknowledgement before the relay takes over,
        /// and how long a relay offer waits for a server's answer before it counts as failed.
        public var attemptTimeout: UInt64 = 3_000
        /// The first pause before a failed offer is retried (then doubling).
        public var firstRetry: UInt64 = 50
        /// The longest pause between retries of a message.
        public var longestRetry: UInt64 = 1_000
        /// The longest pause between retries of an owed skip (it waits for the recipient to
        /// take mail: no hurry).
        public var longestSkipRetry: UInt64 = 5_000
        /// Messages held per sender ahead of a gap.
        public var earlyLimit: Int = 4_096

        public init() {}
    }

    /// Sent messages whose delivery was acknowledged on a direct path / through the relay.
    public struct DeliveryCounts: Equatable, Sendable {
        public var direct = 0
        public var relayed = 0
    }

    public let me: NodeID
    public let configuration: Configuration
    public internal(set) var deliveries = DeliveryCounts()
    /// The server asked to push this client's mail.
    public internal(set) var subscribed: NodeID?

    var random: SplitMix64
    var connected: Set<NodeID> = []
    var attachedServers: [NodeID: [NodeID]] = [:]
    var directPeers: Set<NodeID> = []
    var outbox: [OutboxKey: Outgoing] = [:]
    /// Messages whose fate is not final yet (the outbox, owed skips included).
    public var outboxCount: Int { outbox.count }
    /// Sends waiting for their outbox entry, by ledger batch.
    var preparing: [UInt64: [Preparing]] = [:]
    var timers = DeadlineQueue<Timer>()
    var inbox: Inbox
    var stopped = false

    /// The directives of the step being taken, and the ledger batch it is filling.
    var directives: [Directive] = []
    var openBatch: (index: Int, number: UInt64)?
    var nextBatch: UInt64 = 1
    var now: UInt64 = 0

    struct Preparing: Sendable {
        let token: SendToken
        let recipient: NodeID
        let payload: [UInt8]
        let deadline: UInt64
        let expiresAt: UInt64?
    }

    enum Timer: Sendable {
        /// The attempt of `epoch` (direct or relay) ran out of time.
        case attempt(OutboxKey, epoch: UInt64)
        /// The pause of `epoch` is over: try again.
        case retry(OutboxKey, epoch: UInt64)
        /// The deadline of this `send`.
        case sendDeadline(OutboxKey, SendToken)
        /// The claim of the inbox's front message (of `epoch`) got no answer, or waited out its pause.
        case claim(epoch: UInt64)
    }

    /// A core for client `me`, resuming what its ledger holds (empty for a new client).
    public init(me: NodeID, restoring ledger: LedgerContents = LedgerContents(), configuration: Configuration = Configuration(), seed: UInt64) {
        self.me = me
        self.configuration = configuration
        random = SplitMix64(seed: seed)
        inbox = Inbox(deliveredThrough: ledger.deliveredThrough)
        for entry in ledger.outbox where entry.id.sender == me {
            let message = MailMessage(
                id: entry.id, recipient: entry.recipient, payload: entry.isSkip ? [] : entry.payload, enqueuedAtMillis: 0,
                isSkip: entry.isSkip, expiresAtMillis: entry.expiresAt
            )
            var outgoing = Outgoing(message: message, backoff: backoff(forSkip: entry.isSkip))
            // Whether it was offered directly or relayed before the restart is not known: it may
            // have been both, so it stays on the relay (see ``Outgoing/relayOffered``).
            outgoing.triedDirect = true
            outgoing.relayOffered = true
            outbox[entry.key] = outgoing
            // Due at the first step, whatever its time.
            timers.schedule(.retry(entry.key, epoch: 0), at: 0)
        }
    }

    /// Takes in `input` at logical time `now` (milliseconds; never smaller than the last one) and
    /// returns what the shell must do, in order. Deadlines due by `now` fire first.
    public mutating func step(_ input: Input, now: UInt64) -> [Directive] {
        guard !stopped else { return [] }
        self.now = max(self.now, now)
        directives = []
        openBatch = nil
        fireTimers()
        handle(input)
        let done = directives
        directives = []
        return done
    }

    /// When the core next needs a ``Input/tick`` (`nil`: nothing is timed). Feeding it earlier or
    /// later is harmless; it only fires what is due.
    public var nextDeadline: UInt64? { stopped ? nil : timers.earliest }

    /// Messages this client sent whose fate the core still follows (outbox entries and stored
    /// messages whose `send` still waits).
    public var outstanding: [OutboxKey] { outbox.keys.sorted() }

    /// The highest sequence from `sender` durably handed to the application.
    public func deliveredThrough(_ sender: NodeID) -> UInt64 { inbox.deliveredThrough[sender] ?? 0 }

    private mutating func handle(_ input: Input) {
        switch input {
        case .tick: break
        case .send(let token, let recipient, let payload, let timeout, let expiresAt):
            send(token, to: recipient, payload: payload, timeout: timeout, expiresAt: expiresAt)
        case .recipientServers(let recipient, let servers): attachedServers[recipient] = servers
        case .relayAnswer(let key, let server, let result): relayAnswered(key, from: server, result)
        case .relayFailed(let key, let server): relayFailed(key, server: server)
        case .receipt(let recipient, let id): delivered(OutboxKey(recipient: recipient, id: id), direct: false)
        case .expiryReceipt(let recipient, let id): expired(OutboxKey(recipient: recipient, id: id))
        case .claimAnswer(let id, let server, let result): claimAnswered(id, from: server, result)
        case .directAcknowledgement(let peer, let sequence):
            delivered(OutboxKey(recipient: peer, id: MessageID(sender: me, sequence: sequence)), direct: true)
        case .directSendFailed(let key): directFailed(key)
        case .relayedMessage(let message, let server): received(message, route: .relay(server: server))
        case .directMessage(let message, let link):
            // A skip stands only for what a mailbox refused: never on a direct link. A message
            // with an expiry only comes through the relay: its fate is the cluster's to decide.
            guard !message.isSkip, message.expiresAtMillis == nil else { return }
            received(message, route: .direct(link))
        case .receive:
            inbox.wanted = 1
            pumpInbox()
        case .receiveBatch(let limit):
            inbox.wanted = max(1, limit)
            pumpInbox()
        case .receiveCancelled: inbox.wanted = 0
        case .persisted(let batch, let prepared): persisted(batch, prepared: prepared)
        case .persistFailed(let batch): persistFailed(batch)
        case .serverConnected(let server): serverConnected(server)
        case .serverDisconnected(let server): serverDisconnected(server)
        case .directPeers(let peers): directPeers = peers
        case .stop: stop()
        }
    }

    // MARK: Directives

    mutating func emit(_ directive: Directive) { directives.append(directive) }

    /// Adds `operation` to this step's ledger batch (one batch per step, at the position of its
    /// first operation); returns the batch's number.
    @discardableResult
    mutating func write(_ operation: LedgerOperation) -> UInt64 {
        if let (index, number) = openBatch, case .persist(var batch) = directives[index] {
            batch.operations.append(operation)
            directives[index] = .persist(batch)
            return number
        }
        let number = nextBatch
        nextBatch += 1
        openBatch = (directives.count, number)
        directives.append(.persist(LedgerBatch(number: number, operations: [operation])))
        return number
    }

    // MARK: Time

    private mutating func fireTimers() {
        while let timer = timers.popDue(now) {
            switch timer {
            case .attempt(let key, let epoch): attemptTimedOut(key, epoch: epoch)
            case .retry(let key, let epoch): retryDue(key, epoch: epoch)
            case .sendDeadline(let key, let token): sendDeadlinePassed(key, token)
            case .claim(let epoch): claimTimerFired(epoch: epoch)
            }
        }
    }

    func backoff(forSkip isSkip: Bool) -> Backoff {
        Backoff(initial: .milliseconds(configuration.firstRetry), maximum: .milliseconds(isSkip ? configuration.longestSkipRetry : configuration.longestRetry))
    }

    // MARK: Stopping

    private mutating func stop() {
        for key in outbox.keys.sorted() {
            for token in (outbox[key]?.waiters.keys).map(Array.init)?.sorted() ?? [] { emit(.finishSend(token, .failure(.stopped))) }
        }
        for batch in preparing.keys.sorted() {
            for request in preparing[batch] ?? [] { emit(.finishSend(request.token, .failure(.stopped))) }
        }
        outbox.removeAll()
        preparing.removeAll()
        timers.removeAll()
        stopped = true
    }
}
