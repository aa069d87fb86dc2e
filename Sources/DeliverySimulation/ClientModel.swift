import ClientProtocol
import Mailbox
import P2PCore

/// A message's identity across the system: its id is per (sender, recipient), so the recipient
/// is part of it.
public struct MessageKey: Hashable, Comparable, Sendable {
    public let recipient: NodeID
    public let id: MessageID

    public init(recipient: NodeID, id: MessageID) {
        self.recipient = recipient
        self.id = id
    }

    public init(_ message: MailMessage) {
        self.init(recipient: message.recipient, id: message.id)
    }

    public static func < (a: MessageKey, b: MessageKey) -> Bool {
        if a.id.sender != b.id.sender { return a.id.sender < b.id.sender }
        if a.recipient != b.recipient { return a.recipient < b.recipient }
        return a.id.sequence < b.id.sequence
    }
}

/// What a simulated client keeps on disk: it survives crashes, nothing else does.
public struct ClientLedger: Equatable, Sendable {
    /// The next sequence per recipient (a sequence, once taken, is never reused).
    public var nextSequence: [NodeID: UInt64] = [:]
    /// Messages (or owed skips) without a definitive fate yet.
    public var outbox: [MessageKey: OutboxEntry] = [:]
    /// Per sender, the highest sequence taken from the network (delivered or skipped).
    public var deliveredThrough: [NodeID: UInt64] = [:]
    /// Messages taken from the network but not yet handed to the application.
    public var inbox: [MailMessage] = []

    public struct OutboxEntry: Equatable, Sendable {
        public var message: MailMessage
        /// The payload was refused without a trace: a skip for the id is owed instead.
        public var owesSkip: Bool
    }

    public init() {}

    /// Applies one write (atomically: a crash never leaves half of one).
    public mutating func apply(_ write: LedgerWrite) {
        switch write {
        case .accept(let message):
            outbox[MessageKey(message)] = OutboxEntry(message: message, owesSkip: false)
            let next = nextSequence[message.recipient] ?? 1
            nextSequence[message.recipient] = max(next, message.id.sequence + 1)
        case .oweSkip(let key):
            outbox[key]?.owesSkip = true
        case .settle(let key):
            outbox[key] = nil
        case .receive(let message):
            let through = deliveredThrough[message.id.sender] ?? 0
            guard message.id.sequence > through else { return }
            deliveredThrough[message.id.sender] = message.id.sequence
            if !message.isSkip { inbox.append(message) }
        }
    }
}

/// A durable change a client core asks for; it is confirmed by ``ClientInput/written(_:)``.
public enum LedgerWrite: Equatable, Sendable {
    /// A new message enters the outbox (with its sequence taken).
    case accept(MailMessage)
    /// The message was refused without a trace: its entry becomes an owed skip.
    case oweSkip(MessageKey)
    /// The message (or owed skip) has a definitive fate and leaves the outbox.
    case settle(MessageKey)
    /// A message (or skip) is taken from the network in order: `deliveredThrough` advances and a
    /// message joins the inbox, to be handed over.
    case receive(MailMessage)
}

/// The path a copy came by.
public enum DeliveryPath: Equatable, Sendable {
    case direct(NodeID)
    case relay(NodeID)
}

/// The fate a sender reports to its application.
public enum SendFate: Equatable, Sendable {
    case delivered
    /// In a mailbox: will still be delivered, exactly once.
    case stored
    /// Refused (a skip stands in for it): not guaranteed to be delivered.
    case mailboxFull
    case quotaExceeded
    case storageFull
}

/// What a client core is told.
public enum ClientInput: Equatable, Sendable {
    /// One tick of logical time passed.
    case tick(now: Int)
    /// The application sends `payload` to `recipient`.
    case send(recipient: NodeID, payload: [UInt8])
    /// The ledger write with this token is durable.
    case written(token: UInt64)
    /// A server became reachable (a new link) or unreachable (the link died).
    case server(NodeID, reachable: Bool)
    /// A direct path to a peer came up or went down.
    case peer(NodeID, reachable: Bool)
    case fromServer(NodeID, ServerPush)
    case fromPeer(NodeID, DirectFrame)
}

/// What a client core asks its driver to do, in order.
public enum ClientDirective: Equatable, Sendable {
    case write(LedgerWrite, token: UInt64)
    /// Hands a message to the application; atomic with its removal from the ledger's inbox.
    case handOver(MailMessage, path: DeliveryPath)
    case toServer(NodeID, ClientRequest)
    case toPeer(NodeID, DirectFrame)
    /// Tells the application a send's fate.
    case fate(MessageKey, SendFate)
}

/// A client's delivery logic as a pure state machine: the slot the simulator drives.
protocol ClientCore {
    /// A client starting (or restarting after a crash) from what its ledger holds.
    init(id: NodeID, ledger: ClientLedger, seed: UInt64)
    mutating func handle(_ input: ClientInput) -> [ClientDirective]
}
