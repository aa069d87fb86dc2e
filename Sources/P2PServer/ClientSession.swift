import ClientProtocol
import Delivery
import Mailbox
import MessageModel
import P2PCore
import Transport

/// One client's link to this server, and — while the client subscribes here — the push of its
/// mailbox to it: a shell over ``PushWindow`` (the window, its rewinds and its backpressure),
/// which answers the window's reads from the replicated ``MailboxStore`` and sends its pushes.
actor ClientSession {
    nonisolated let client: NodeID
    nonisolated let link: Link
    private let store: MailboxStore
    private var window: PushWindow
    private let origin = ContinuousClock.now
    /// The peers the client last said it reaches directly.
    private(set) var directPeers: [NodeID] = []
    /// The client's messages sent through this server whose receipt it still waits for: only
    /// those are pushed, once each (a receipt can arrive twice: passed on early, then committed).
    private var awaitingReceipts: Set<DeliveryReceipt> = []

    /// Most receipts one session waits for; sends beyond it get no receipt from this server (the
    /// sender's `send` then ends as stored at its deadline, which is true).
    static let maximumAwaitedReceipts = 16_384
    /// The peers the client sent messages to through this link (the relay), at most ``maximumRelayedPeers``.
    private(set) var relayedPeers: Set<NodeID> = []
    static let maximumRelayedPeers = 256

    /// Where the session says whether it wants the gateway's periodic tick (`nil`: no one asks).
    private let registry: ClientSessions?
    /// What the session last told ``registry``.
    private var ticking = false
    /// Whether the last read of the mailbox failed (a tick retries it).
    private var readFailed = false
    /// Whether the client takes ``ServerPush/batch(_:)`` frames (it announced so).
    private var batchesPushes = false

    /// The bytes queued on all the server's client links, if counted.
    private let allQueued: QueuedBytesGauge?
    /// Where pushes and start-overs are counted, if anywhere.
    private let metrics: ServerMetrics?
    /// The window's start-overs already counted in ``metrics``.
    private var countedRestarts = PushWindow.Restarts()

    init(
        client: NodeID, link: Link, store: MailboxStore, window: Int = 512, registry: ClientSessions? = nil,
        allQueued: QueuedBytesGauge? = nil, metrics: ServerMetrics? = nil
    ) {
        self.allQueued = allQueued
        self.metrics = metrics
        self.client = client
        self.link = link
        self.store = store
        self.registry = registry
        var configuration = PushWindow.Configuration()
        configuration.window = window
        configuration.pushBudget = Self.pushBudget
        self.window = PushWindow(configuration: configuration)
    }

    /// Bytes queued on the link beyond which the push waits (for acknowledgements, which mean the
    /// client is reading): a slow client gets its mail more slowly, never a link closed for
    /// overload or a queue that grows the server's memory.
    static let pushBudget = 256 << 10

    /// Bytes queued on all the server's client links together beyond which every push waits:
    /// the per-session budget alone lets memory grow with the number of sessions (10,000
    /// clients draining their mailboxes at once could hold 2.5 GiB).
    static let serverPushBudget = 64 << 20

    /// What the window is told is queued: the link's own bytes, or its whole budget while the
    /// server as a whole is over its budget.
    private var queuedBytes: Int {
        if let allQueued, allQueued.value >= Self.serverPushBudget { return max(link.queuedBytes, Self.pushBudget) }
        return link.queuedBytes
    }

    /// Pushes anything new in the mailbox.
    func wake() { step(.newMail) }

    func setSubscribed(_ on: Bool) { step(.subscribe(on)) }

    /// The acknowledgement of `id` was applied: it left the mailbox.
    func acknowledged(_ id: MessageID) { step(.acknowledged(id)) }

    /// The acknowledgements of `ids` were applied (one hop for a batch).
    func acknowledged(_ ids: [MessageID]) {
        for id in ids { step(.acknowledged(id)) }
    }

    /// The client acknowledged `id` (the acknowledgement is on its way through Raft): it reads
    /// what is pushed, so the window's patience starts again.
    func acknowledgementReceived(_ id: MessageID) { step(.acknowledgementReceived(id)) }

    /// The client acknowledged `ids` (one hop for a batch).
    func acknowledgementsReceived(_ ids: [MessageID]) {
        for id in ids { step(.acknowledgementReceived(id)) }
    }

    /// The client announced what it takes beyond the base protocol.
    func setClientFeatures(_ features: LinkFeatures) { batchesPushes = features.contains(.batches) }

    /// Starts over if the client stayed silent on what was pushed for longer than `patience`, or
    /// left one message unacknowledged for much longer (sequence heads first; see
    /// ``PushWindow``); otherwise pushes what waits and fits. The gateway calls it only while
    /// the session wants ticks (``PushWindow/wantsTicks``).
    func rewindIfStale(patience: Duration) {
        let (seconds, attoseconds) = patience.components
        window.configuration.patience = UInt64(max(0, seconds)) &* 1_000 &+ UInt64(max(0, attoseconds) / 1_000_000_000_000_000)
        step(.tick)
    }

    /// Starts over from the head of the mailbox (a snapshot replaced the state).
    func rewind() { step(.snapshotInstalled) }

    func setDirectPeers(_ peers: [NodeID]) { directPeers = peers }

    /// The client sent these messages through this server: tell it when each is delivered.
    func awaitReceipts(_ receipts: [DeliveryReceipt]) {
        for receipt in receipts where awaitingReceipts.count < Self.maximumAwaitedReceipts {
            awaitingReceipts.insert(receipt)
        }
    }

    /// Tells the client its messages were delivered: those it waits for here, each once.
    func pushReceipts(_ receipts: [DeliveryReceipt]) {
        var pushes: [ServerPush] = []
        for receipt in receipts where awaitingReceipts.remove(receipt) != nil {
            pushes.append(.delivered(recipient: receipt.recipient, id: receipt.id))
        }
        push(pushes)
    }

    /// Answers sends with their results (one hop for a batch); a message not stored will get no
    /// receipt from here.
    func finishSends(_ sends: [(request: UInt64, receipt: DeliveryReceipt, result: SendResult)]) {
        var pushes: [ServerPush] = []
        pushes.reserveCapacity(sends.count)
        for send in sends {
            if send.result != .stored { awaitingReceipts.remove(send.receipt) }
            pushes.append(.sendResult(request: send.request, send.result))
        }
        push(pushes)
    }

    func noteRelayed(to peer: NodeID) {
        if relayedPeers.count < Self.maximumRelayedPeers { relayedPeers.insert(peer) }
    }

    func push(_ message: ServerPush) {
        try? link.send(type: ClientProtocol.pushFrame, message.encoded())
    }

    /// Sends `pushes` in order: in batches when the client takes them, else one frame each.
    /// Returns `false` once the link is closed.
    @discardableResult
    private func push(_ pushes: [ServerPush]) -> Bool {
        guard batchesPushes, pushes.count > 1 else {
            for message in pushes {
                guard (try? link.send(type: ClientProtocol.pushFrame, message.encoded())) != nil else { return false }
            }
            return true
        }
        for group in FrameBatch.pack(pushes.map { $0.encoded() }) {
            let bytes = group.count == 1 ? group[0] : ServerPush.batch(encoded: group)
            guard (try? link.send(type: ClientProtocol.pushFrame, bytes)) != nil else { return false }
        }
        return true
    }

    /// Feeds the window and carries out its directives until it asks for nothing more.
    private func step(_ input: PushWindow.Input) {
        var next: PushWindow.Input? = input
        var pushes = 0
        defer { count(pushes) }
        while let input = next {
            next = nil
            let elapsed = ContinuousClock.now - origin
            let now = UInt64(max(0, elapsed.components.seconds)) &* 1_000 &+ UInt64(max(0, elapsed.components.attoseconds) / 1_000_000_000_000_000)
            var deliveries: [ServerPush] = []
            for directive in window.step(input, now: now, queuedBytes: queuedBytes) {
                switch directive {
                case .push(let message):
                    pushes += 1
                    deliveries.append(.deliver(message))
                case .fetch(let fetch):
                    next = .fetched(generation: fetch.generation, read(fetch))
                }
            }
            // A closed link ends the push; the session ends with it.
            guard push(deliveries) else { return }
        }
        let wantsTicks = window.wantsTicks || readFailed
        if wantsTicks != ticking, let registry {
            ticking = wantsTicks
            registry.setTicking(self, wantsTicks)
        }
    }

    private func count(_ pushes: Int) {
        guard let metrics else { return }
        let restarts = window.restarts
        metrics.pushed(pushes, restarts: PushWindow.Restarts(
            silent: restarts.silent - countedRestarts.silent, stuck: restarts.stuck - countedRestarts.stuck
        ))
        countedRestarts = restarts
    }

    /// The window's read of the mailbox; nothing if the store failed (the push resumes at the next event).
    private func read(_ fetch: PushWindow.Fetch) -> [PushWindow.StoredMail] {
        let stored: [(arrival: UInt64, message: MailMessage)]
        readFailed = false
        do {
            switch fetch.kind {
            case .after(let arrival, let limit):
                stored = try store.messages(for: client, after: arrival, limit: limit)
            case .sequenceHeads(let perSender, let limit):
                stored = try store.sequenceHeads(for: client, perSender: perSender, limit: limit)
            }
        } catch {
            readFailed = true
            return []
        }
        return stored.map { PushWindow.StoredMail(arrival: $0.arrival, message: $0.message) }
    }
}
