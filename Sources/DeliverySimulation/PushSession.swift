import Mailbox
import P2PCore

/// A server's pump of one subscribed client's mailbox, with the semantics of the server's
/// `ClientSession`: a window of pushed-but-unacknowledged messages; an acknowledgement frees a
/// slot; a message unacknowledged too long rewinds the pump, each sender's lowest sequences first.
struct PushSession {
    let client: NodeID
    var subscribed = false
    private var cursor: UInt64 = 0
    private var inFlight: [MessageID: Int] = [:]
    let window: Int
    let patience: Int
    static let headsPerSender = 4

    init(client: NodeID, window: Int, patience: Int) {
        self.client = client
        self.window = window
        self.patience = patience
    }

    /// Messages to push now (new mail, or room in the window).
    mutating func wake(_ store: MailboxStore, now: Int) throws -> [MailMessage] {
        guard subscribed else { return [] }
        var pushed: [MailMessage] = []
        while inFlight.count < window {
            let batch = try store.messages(for: client, after: cursor, limit: window - inFlight.count)
            guard !batch.isEmpty else { break }
            for (arrival, message) in batch {
                cursor = arrival
                inFlight[message.id] = now
                pushed.append(message)
            }
        }
        return pushed
    }

    mutating func acknowledged(_ id: MessageID, _ store: MailboxStore, now: Int) throws -> [MailMessage] {
        guard inFlight.removeValue(forKey: id) != nil else { return [] }
        return try wake(store, now: now)
    }

    mutating func setSubscribed(_ on: Bool, _ store: MailboxStore, now: Int) throws -> [MailMessage] {
        subscribed = on
        return try rewind(store, now: now, headsFirst: false)
    }

    /// Starts over when a pushed message stayed unacknowledged past `patience`.
    mutating func rewindIfStale(_ store: MailboxStore, now: Int) throws -> [MailMessage] {
        guard let oldest = inFlight.values.min() else { return try wake(store, now: now) }
        guard now - oldest > patience else { return [] }
        return try rewind(store, now: now, headsFirst: true)
    }

    mutating func rewind(_ store: MailboxStore, now: Int, headsFirst: Bool) throws -> [MailMessage] {
        cursor = 0
        inFlight.removeAll()
        var pushed: [MailMessage] = []
        if subscribed, headsFirst {
            for (_, message) in try store.sequenceHeads(for: client, perSender: Self.headsPerSender, limit: window) {
                inFlight[message.id] = now
                pushed.append(message)
            }
        }
        return pushed + (try wake(store, now: now))
    }
}
