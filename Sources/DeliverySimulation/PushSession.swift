import Delivery
import Mailbox
import MessageModel
import P2PCore

/// A server's push of one subscribed client's mailbox: the Delivery core's ``PushWindow``,
/// with its fetches answered at once from the server's ``MailboxStore``.
struct PushSession {
    private var window: PushWindow

    init(window size: Int, patience: UInt64) {
        var configuration = PushWindow.Configuration()
        configuration.window = size
        configuration.patience = patience
        configuration.headsPerSender = 4
        window = PushWindow(configuration: configuration)
    }

    var subscribed: Bool { window.subscribed }

    /// Steps the window with `input` (and the answers to its fetches); returns what it pushes.
    mutating func step(_ input: PushWindow.Input, client: NodeID, store: MailboxStore, now: UInt64) throws -> [MailMessage] {
        var pushed: [MailMessage] = []
        var inputs = [input]
        while !inputs.isEmpty {
            for directive in window.step(inputs.removeFirst(), now: now, queuedBytes: 0) {
                switch directive {
                case .push(let message):
                    pushed.append(message)
                case .fetch(let fetch):
                    let mail: [(arrival: UInt64, message: MailMessage)]
                    switch fetch.kind {
                    case .after(let arrival, let limit):
                        mail = try store.messages(for: client, after: arrival, limit: limit)
                    case .sequenceHeads(let perSender, let limit):
                        mail = try store.sequenceHeads(for: client, perSender: perSender, limit: limit)
                    }
                    inputs.append(.fetched(generation: fetch.generation, mail.map { PushWindow.StoredMail(arrival: $0.arrival, message: $0.message) }))
                }
            }
        }
        return pushed
    }
}
