import MessageModel
import P2PCore

/// A server's push of one client's mailbox to that client, as a deterministic state machine
/// (one per client session; see `ClientSession` in P2PServer).
///
/// Mail stays in the replicated mailbox until the client's acknowledgement is committed; the
/// window only keeps pushed-but-unacknowledged messages (at most ``Configuration/window``).
/// When the client stays silent on what was pushed for longer than ``Configuration/patience``
/// (no acknowledgement of a message in flight arrived, nor was one applied), or one message is
/// stuck while others go through — messages pushed more than ``Configuration/patience`` ×
/// ``Configuration/stuckFactor`` after it were acknowledged and it was not (the client holds it
/// behind a gap), or its acknowledgement arrived that long ago and was never applied (lost with
/// a leader) — the push starts over: first each sender's lowest sequences, then the mailbox
/// from its head. The client deduplicates by id and acknowledges again. Each start-over for
/// silence may double the patience (``Configuration/silentDoublings`` times, none by default)
/// until the client has acknowledged everything pushed.
///
/// Time in flight alone is no sign of trouble: a slow client that reads a full window in order
/// keeps the last pushed message waiting for as long as it takes to read the ones before it.
/// Starting over then would push the whole window again to a client that cannot keep up with
/// it once (a feedback loop under load), so only being overtaken counts.
///
/// An acknowledgement received from the client (``Input/acknowledgementReceived(_:)``) is
/// progress even before Raft applies it: under load commits are slow, and starting over then
/// would only push everything again and commit every acknowledgement again (a feedback loop).
/// Such messages stay in the window until applied (a start-over pushes them again: their
/// commit may have been lost).
///
/// The window reads the mailbox through directives — ``Directive/fetch(_:)``, answered by
/// ``Input/fetched(_:_:)`` — so it holds no store and stays pure: a shell answers from its
/// `MailboxStore`, a simulator from its model. At most one fetch is out at a time; an answer to a
/// fetch made before a rewind is ignored (its ``Fetch/generation`` is old).
///
/// Backpressure: each ``step(_:now:queuedBytes:)`` carries the bytes queued on the client's
/// link; while they (plus what this step pushed) exceed ``Configuration/pushBudget`` the window
/// pauses, and goes on at the next acknowledgement, new mail or tick. A slow client gets its
/// mail more slowly, never a link closed for overload or a queue that grows the server's memory.
public struct PushWindow: Sendable {
    public struct Configuration: Equatable, Sendable {
        /// Pushed-but-unacknowledged messages at most.
        public var window = 512
        /// Bytes queued on the link beyond which pushing pauses.
        public var pushBudget = 4 << 20
        /// Lowest sequences per sender pushed first when a stale window starts over.
        public var headsPerSender = 16
        /// How long (logical milliseconds) the client may stay silent on what was pushed.
        public var patience: UInt64 = 10_000
        /// How many times start-overs for silence may double the patience (0: never). A client
        /// that waits behind a gap is silent too, and a start-over (sequence heads first) is
        /// what fills its gap: with even one doubling, the delivery simulator's liveness checks
        /// failed (seeds 18, 1395, 5027, 14389, 18605 of 20,000; with 8, seed 18 waited 80 s
        /// of patience). Kept for experiments on slow readers.
        public var silentDoublings = 0
        /// How many patiences one message may stay unacknowledged (or its received
        /// acknowledgement unapplied) while others go through, before the push starts over.
        public var stuckFactor: UInt64 = 10

        public init() {}
    }

    /// What happens to the session.
    public enum Input: Equatable, Sendable {
        /// The client asks for its mail to be pushed here (`true`) or not (`false`); either
        /// way the push starts over from the head of the mailbox.
        case subscribe(Bool)
        /// The mailbox has new mail (an enqueue or a skip was applied).
        case newMail
        /// The client's acknowledgement of `id` was applied: it left the mailbox.
        case acknowledged(MessageID)
        /// The client's acknowledgement of `id` arrived (it is on its way through Raft): the
        /// client reads what is pushed, so the patience clock starts again.
        case acknowledgementReceived(MessageID)
        /// Time passed: a window stale for longer than the patience starts over, sequence heads
        /// first; an empty window pushes what waits (the push may have paused on the budget).
        case tick
        /// A snapshot replaced the mailbox state: start over from its head.
        case snapshotInstalled
        /// The answer to the fetch of `generation`: mail in arrival order (or the sequence heads).
        case fetched(generation: UInt64, [StoredMail])
    }

    /// What the session's shell does.
    public enum Directive: Equatable, Sendable {
        /// Read the mailbox and answer ``Input/fetched(_:_:)``.
        case fetch(Fetch)
        /// Push `message` to the client (`ServerPush.deliver`).
        case push(MailMessage)
    }

    /// A read of the client's mailbox.
    public struct Fetch: Equatable, Sendable {
        public enum Kind: Equatable, Sendable {
            /// Up to `limit` messages that arrived after `arrival`, in arrival order.
            case after(arrival: UInt64, limit: Int)
            /// Each sender's lowest sequences (at most `perSender` each, `limit` in all).
            case sequenceHeads(perSender: Int, limit: Int)
        }

        public let generation: UInt64
        public let kind: Kind
    }

    /// A message in the mailbox with its arrival number (the mailbox's order).
    public struct StoredMail: Equatable, Sendable {
        public let arrival: UInt64
        public let message: MailMessage

        public init(arrival: UInt64, message: MailMessage) {
            self.arrival = arrival
            self.message = message
        }
    }

    /// How often a window started over on its own (not asked to by a subscribe or a snapshot).
    public struct Restarts: Equatable, Sendable {
        /// The client owed acknowledgements and stayed silent for longer than the patience.
        public var silent = 0
        /// A message was overtaken, or its acknowledgement never applied, for too long.
        public var stuck = 0

        public init(silent: Int = 0, stuck: Int = 0) {
            self.silent = silent
            self.stuck = stuck
        }
    }

    public var configuration: Configuration
    public private(set) var subscribed = false
    /// Start-overs so far (each pushes the window again: the client sees duplicates).
    public private(set) var restarts = Restarts()
    /// Pushed and not acknowledged, with when they were pushed (or their acknowledgement arrived).
    public private(set) var inFlight: [MessageID: UInt64] = [:]
    /// When the most recently pushed of the acknowledged messages was pushed: a message pushed
    /// well before it and still unacknowledged was overtaken.
    private var newestAcknowledgedPush: UInt64 = 0
    /// Start-overs for silence since the window last emptied: each doubles the patience (up to
    /// ``Configuration/silentDoublings`` times), so that a client too slow to answer within the
    /// patience is not pushed its window again and again (every start-over adds to what it has
    /// to read).
    private var silentStreak = 0
    /// Those of ``inFlight`` whose acknowledgement arrived and is not applied yet.
    public private(set) var received: Set<MessageID> = []
    /// When the client last showed progress on what is in flight (or the window last started
    /// filling from empty).
    private var lastProgress: UInt64 = 0
    /// The arrival number of the last message pushed from the mailbox in order.
    private var cursor: UInt64 = 0
    private var generation: UInt64 = 0
    /// The fetch that is out, if one is: its generation, and whether it reads sequence heads.
    private var fetching: (generation: UInt64, heads: Bool)?
    /// Whether to fetch again once the outstanding fetch is answered.
    private var wanted = false
    private var directives: [Directive] = []
    private var pushedBytes = 0
    private var queuedBytes = 0
    private var now: UInt64 = 0
    /// Whether the push stopped on the budget with room in the window (a tick resumes it).
    private var pausedOnBudget = false

    /// Whether a ``Input/tick`` can change anything now: messages are in flight (a window gone
    /// stale starts over), or the push paused on the budget. Otherwise ticks do nothing a
    /// shell needs, so it may leave the session out of its ticks (an idle session costs no
    /// time) until this turns true again.
    public var wantsTicks: Bool { subscribed && (!inFlight.isEmpty || pausedOnBudget) }

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// Takes in `input` at logical time `now`, with `queuedBytes` waiting on the client's link,
    /// and returns what to do, in order.
    public mutating func step(_ input: Input, now: UInt64, queuedBytes: Int) -> [Directive] {
        self.now = max(self.now, now)
        self.queuedBytes = queuedBytes
        pushedBytes = 0
        directives = []
        switch input {
        case .subscribe(let on):
            subscribed = on
            rewind(sequenceHeadsFirst: false)
        case .newMail:
            wake()
        case .acknowledged(let id):
            guard let since = inFlight.removeValue(forKey: id) else { break }
            if received.remove(id) == nil { newestAcknowledgedPush = max(newestAcknowledgedPush, since) }
            lastProgress = self.now
            // Refilled in batches (one read for many pushes), or at once when the window empties.
            if inFlight.isEmpty { silentStreak = 0 }
            if configuration.window - inFlight.count >= refillBatch || inFlight.isEmpty { wake() }
        case .acknowledgementReceived(let id):
            guard let pushed = inFlight[id], received.insert(id).inserted else { break }
            newestAcknowledgedPush = max(newestAcknowledgedPush, pushed)
            inFlight[id] = self.now
            lastProgress = self.now
        case .tick:
            if !inFlight.isEmpty {
                // Silence counts only while the client owes an acknowledgement and has taken all
                // that was pushed (bytes still queued here: it is slow, not deaf).
                let doublings = max(0, min(silentStreak, configuration.silentDoublings, 8))
                let patience = configuration.patience &<< UInt64(doublings)
                let silent = received.count < inFlight.count && self.queuedBytes == 0 && self.now - lastProgress > patience
                if silent {
                    restarts.silent += 1
                    silentStreak += 1
                    rewind(sequenceHeadsFirst: true)
                } else if isStuck {
                    restarts.stuck += 1
                    rewind(sequenceHeadsFirst: true)
                } else {
                    wake()
                }
            } else {
                wake()
            }
        case .snapshotInstalled:
            rewind(sequenceHeadsFirst: false)
        case .fetched(let answered, let mail):
            fetchedAnswer(answered, mail)
        }
        let done = directives
        directives = []
        return done
    }

    private var overBudget: Bool { queuedBytes + pushedBytes >= configuration.pushBudget }

    /// Whether a message in flight was overtaken long ago, or its acknowledgement arrived long
    /// ago and was never applied.
    private var isStuck: Bool {
        let limit = configuration.patience &* max(configuration.stuckFactor, 1)
        for (id, since) in inFlight {
            if received.contains(id) {
                if now - since > limit { return true }
            } else if newestAcknowledgedPush > since, newestAcknowledgedPush - since > limit {
                return true
            }
        }
        return false
    }

    /// Free places in the window that an applied acknowledgement waits for before it refills it.
    private var refillBatch: Int { max(1, configuration.window / 8) }

    /// Pushes what is new, if the window and the budget allow.
    private mutating func wake() {
        guard subscribed, inFlight.count < configuration.window else { return }
        guard !overBudget else {
            pausedOnBudget = true
            return
        }
        pausedOnBudget = false
        guard fetching == nil else {
            wanted = true
            return
        }
        fetch(.after(arrival: cursor, limit: configuration.window - inFlight.count))
    }

    private mutating func fetch(_ kind: Fetch.Kind) {
        if case .sequenceHeads = kind { fetching = (generation, true) } else { fetching = (generation, false) }
        wanted = false
        directives.append(.fetch(Fetch(generation: generation, kind: kind)))
    }

    private mutating func rewind(sequenceHeadsFirst: Bool) {
        cursor = 0
        pausedOnBudget = false
        received.removeAll()
        inFlight.removeAll()
        newestAcknowledgedPush = 0
        lastProgress = now
        generation += 1
        fetching = nil
        wanted = false
        guard subscribed else { return }
        if sequenceHeadsFirst {
            fetch(.sequenceHeads(perSender: configuration.headsPerSender, limit: configuration.window))
        } else {
            wake()
        }
    }

    private mutating func fetchedAnswer(_ answered: UInt64, _ mail: [StoredMail]) {
        guard let outstanding = fetching, outstanding.generation == answered else { return }
        fetching = nil
        guard subscribed else { return }
        if outstanding.heads {
            // The heads of a stale window go out whatever the budget: they are what unblocks the client.
            for stored in mail where inFlight[stored.message.id] == nil { push(stored.message) }
            return wake()
        }
        var more = !mail.isEmpty
        for stored in mail {
            // Already pushed since the rewind (a sequence head).
            if inFlight[stored.message.id] != nil {
                cursor = stored.arrival
                continue
            }
            guard !overBudget else {
                more = false
                pausedOnBudget = true
                break
            }
            cursor = stored.arrival
            push(stored.message)
        }
        if more || wanted { wake() }
    }

    private mutating func push(_ message: MailMessage) {
        if inFlight.isEmpty { lastProgress = now }
        inFlight[message.id] = now
        pushedBytes += message.payload.count + Self.pushOverhead
        directives.append(.push(message))
    }

    /// Bytes a push adds beyond the payload (ids, framing), for the budget.
    static let pushOverhead = 96
}
