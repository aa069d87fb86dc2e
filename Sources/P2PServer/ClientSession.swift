import ClientProtocol
import Mailbox
import P2PCore
import Transport

/// One client's link to this server, and — while the client subscribes here — the pump that
/// pushes its mailbox to it.
///
/// Mail stays in the replicated mailbox until the client's acknowledgement is committed; the
/// pump only keeps a window of pushed-but-unacknowledged messages. When one of them stays
/// unacknowledged too long (its acknowledgement was lost with a leader, say), the pump starts
/// over from the head of the mailbox: the client deduplicates by message id and acknowledges again.
actor ClientSession {
    nonisolated let client: NodeID
    nonisolated let link: Link
    private let store: MailboxStore
    private var subscribed = false
    private var cursor: UInt64 = 0
    private var inFlight: [MessageID: ContinuousClock.Instant] = [:]
    private let window: Int
    /// The peers the client last said it reaches directly.
    private(set) var directPeers: [NodeID] = []

    init(client: NodeID, link: Link, store: MailboxStore, window: Int = 512) {
        self.client = client
        self.link = link
        self.store = store
        self.window = window
    }

    /// Bytes queued on the link beyond which the pump waits (for acknowledgements, which mean the
    /// client is reading): a slow client gets its mail more slowly, never a link closed for
    /// overload or a queue that grows the server's memory.
    static let pushBudget = 4 << 20

    /// Pushes anything new in the mailbox.
    func wake() {
        guard subscribed else { return }
        while inFlight.count < window {
            let batch: [(arrival: UInt64, message: MailMessage)]
            do {
                batch = try store.messages(for: client, after: cursor, limit: window - inFlight.count)
            } catch {
                return
            }
            guard !batch.isEmpty else { return }
            for (arrival, message) in batch {
                guard link.queuedBytes < Self.pushBudget else { return }
                cursor = arrival
                guard deliver(message) else { return }
            }
        }
    }

    /// Pushes one message and counts it in the window; `false` once the link is closed.
    private func deliver(_ message: MailMessage) -> Bool {
        inFlight[message.id] = .now
        do {
            try link.send(type: ClientProtocol.pushFrame, ServerPush.deliver(message).encoded())
            return true
        } catch {
            return false
        }
    }

    func setSubscribed(_ on: Bool) {
        subscribed = on
        rewind()
    }

    /// The acknowledgement of `id` was applied: it left the mailbox.
    func acknowledged(_ id: MessageID) {
        guard inFlight.removeValue(forKey: id) != nil else { return }
        wake()
    }

    /// Starts over if a pushed message stayed unacknowledged longer than `patience`: first each
    /// sender's lowest sequences, then the mailbox from its head.
    ///
    /// The window can fill with messages the client must hold back because an earlier one of
    /// the same sender arrived in the mailbox after them (it was relayed once its direct attempt
    /// timed out, while later ones were relayed at once). Pushed in arrival order, that earlier
    /// one would never fit in the window; pushed first, it lets the client deliver and
    /// acknowledge, and the window moves again.
    /// With nothing in flight it pushes what waits (the pump may have paused on ``pushBudget``).
    func rewindIfStale(patience: Duration) {
        guard let oldest = inFlight.values.min() else { return wake() }
        guard ContinuousClock.now - oldest > patience else { return }
        rewind(sequenceHeadsFirst: true)
    }

    private static let headsPerSender = 16

    /// Starts over from the head of the mailbox (e.g. after a snapshot replaced the state).
    func rewind() { rewind(sequenceHeadsFirst: false) }

    private func rewind(sequenceHeadsFirst: Bool) {
        cursor = 0
        inFlight.removeAll()
        if subscribed, sequenceHeadsFirst {
            let heads = (try? store.sequenceHeads(for: client, perSender: Self.headsPerSender, limit: window)) ?? []
            for (_, message) in heads {
                guard deliver(message) else { return }
            }
        }
        wake()
    }

    func setDirectPeers(_ peers: [NodeID]) { directPeers = peers }

    func push(_ message: ServerPush) {
        try? link.send(type: ClientProtocol.pushFrame, message.encoded())
    }
}
