import ClientProtocol
import Mailbox
import P2PCore
import Raft

/// The simulator's own client, written from docs/DELIVERY.md: durable outbox, direct path
/// first then relay, owed skips, in-order receive with a bounded buffer, acknowledgement on the
/// path a copy came by. It is the baseline the simulator is validated with; the `Delivery`
/// core plugs into the same slot (``ClientCore``).
struct ReferenceClient: ClientCore {
    private struct Outgoing {
        var message: MailMessage
        var owesSkip: Bool
        var durable: Bool
        var settling = false
        var nextTry = 0
        var directTried = false
        var backoff = 8
    }

    private enum PendingWrite {
        case accepted(MessageKey)
        case settled(MessageKey)
        case received(MailMessage, DeliveryPath)
        case other
    }

    let id: NodeID
    private var rng: SplitMix64
    private var now = 0
    private var nextSequence: [NodeID: UInt64]
    private var outbox: [MessageKey: Outgoing] = [:]
    /// Taken from the network (written or being written), and durably so.
    private var taken: [NodeID: UInt64]
    private var durableThrough: [NodeID: UInt64]
    private var buffer: [NodeID: [UInt64: (MailMessage, DeliveryPath)]] = [:]
    private var pending: [UInt64: PendingWrite] = [:]
    private var nextToken: UInt64 = 0
    private var requests: [UInt64: MessageKey] = [:]
    private var nextRequest: UInt64 = 0
    private var servers: [NodeID] = []
    private var home: NodeID?
    private var lastSubscribe = 0
    private var peers: Set<NodeID> = []
    private var unhanded: [MailMessage]

    static let directPatience = 12
    static let relayPatience = 30
    static let bufferLimit = 32
    static let subscribeEvery = 40

    init(id: NodeID, ledger: ClientLedger, seed: UInt64) {
        self.id = id
        rng = SplitMix64(seed: seed)
        nextSequence = ledger.nextSequence
        taken = ledger.deliveredThrough
        durableThrough = ledger.deliveredThrough
        unhanded = ledger.inbox
        for (key, entry) in ledger.outbox {
            outbox[key] = Outgoing(message: entry.message, owesSkip: entry.owesSkip, durable: true)
        }
    }

    mutating func handle(_ input: ClientInput) -> [ClientDirective] {
        // Messages taken before a crash but not handed over yet go first.
        var out: [ClientDirective] = unhanded.map { .handOver($0, path: .relay($0.recipient)) }
        unhanded = []
        switch input {
        case .tick(let time):
            now = time
            retry(&out)
            if let home, now - lastSubscribe >= Self.subscribeEvery { subscribe(home, &out) }
        case .send(let recipient, let payload):
            let sequence = nextSequence[recipient] ?? 1
            nextSequence[recipient] = sequence + 1
            let message = MailMessage(id: MessageID(sender: id, sequence: sequence), recipient: recipient, payload: payload, enqueuedAtMillis: 0)
            outbox[MessageKey(message)] = Outgoing(message: message, owesSkip: false, durable: false)
            write(.accept(message), .accepted(MessageKey(message)), &out)
        case .written(let token):
            written(token, &out)
        case .server(let server, let reachable):
            servers.removeAll { $0 == server }
            if reachable { servers.append(server); servers.sort() }
            if home == nil || !servers.contains(home ?? server) {
                home = servers.isEmpty ? nil : servers[Int(rng.next() % UInt64(servers.count))]
                if let home { subscribe(home, &out) }
            }
        case .peer(let peer, let reachable):
            if reachable { peers.insert(peer) } else { peers.remove(peer) }
        case .fromPeer(let peer, .message(let message)):
            receive(message, .direct(peer), &out)
        case .fromPeer(let peer, .acknowledge(let messageID)):
            settle(MessageKey(recipient: peer, id: messageID), .delivered, &out)
        case .fromServer(let server, .deliver(let message)):
            receive(message, .relay(server), &out)
        case .fromServer(_, .delivered(let recipient, let messageID)):
            settle(MessageKey(recipient: recipient, id: messageID), .delivered, &out)
        case .fromServer(_, .sendResult(let request, let result)):
            if let key = requests.removeValue(forKey: request) { sendResult(key, result, &out) }
        case .fromServer:
            break
        }
        return out
    }

    // MARK: Sending

    private mutating func retry(_ out: inout [ClientDirective]) {
        let due = outbox.values.filter { $0.durable && !$0.settling && $0.nextTry <= now }.map(\.message)
        for message in due.sorted(by: Self.order) { attempt(MessageKey(message), &out) }
    }

    private mutating func attempt(_ key: MessageKey, _ out: inout [ClientDirective]) {
        guard var entry = outbox[key] else { return }
        let recipient = entry.message.recipient
        if !entry.owesSkip && peers.contains(recipient) && !entry.directTried {
            out.append(.toPeer(recipient, .message(entry.message)))
            entry.directTried = true
            entry.nextTry = now + Self.directPatience
        } else if !relayBlocked(entry.message), let server = servers.isEmpty ? nil : servers[Int(rng.next() % UInt64(servers.count))] {
            nextRequest += 1
            requests[nextRequest] = key
            let message = entry.owesSkip
                ? MailMessage(id: key.id, recipient: recipient, payload: [], enqueuedAtMillis: 0, isSkip: true)
                : entry.message
            out.append(.toServer(server, .send(request: nextRequest, message: message)))
            entry.directTried = false
            entry.nextTry = now + (entry.owesSkip ? entry.backoff : Self.relayPatience)
            if entry.owesSkip { entry.backoff = min(entry.backoff * 2, 128) }
        } else {
            entry.directTried = false
            entry.nextTry = now + 5
        }
        outbox[key] = entry
    }

    /// Relayed copies of one recipient go in sequence order: a message is relayed only once every
    /// earlier one has a fate. Otherwise later messages can fill the sender's quota in the
    /// recipient's mailbox while an earlier one is refused: its owed skip could never get in, and
    /// the recipient could never take the later ones (it waits for the earlier sequence).
    private func relayBlocked(_ message: MailMessage) -> Bool {
        outbox.values.contains { $0.message.recipient == message.recipient && $0.message.id.sequence < message.id.sequence }
    }

    private mutating func sendResult(_ messageID: MessageKey, _ result: SendResult, _ out: inout [ClientDirective]) {
        guard let entry = outbox[messageID], !entry.settling else { return }
        switch result {
        case .stored:
            settle(messageID, entry.owesSkip ? nil : .stored, &out)
        case .alreadyDelivered:
            settle(messageID, entry.owesSkip ? nil : .delivered, &out)
        case .mailboxFull:
            settle(messageID, entry.owesSkip ? nil : .mailboxFull, &out)
        case .unknownRecipient, .tooLarge:
            settle(messageID, nil, &out)
        case .quotaExceeded, .storageFull:
            guard !entry.owesSkip else { return }
            outbox[messageID]?.owesSkip = true
            outbox[messageID]?.nextTry = now + entry.backoff
            out.append(.fate(messageID, Self.refusal(result)))
            write(.oweSkip(messageID), .other, &out)
        case .unavailable:
            outbox[messageID]?.nextTry = min(entry.nextTry, now + 4)
        }
    }

    private static func refusal(_ result: SendResult) -> SendFate {
        if case .storageFull = result { return .storageFull }
        return .quotaExceeded
    }

    private mutating func settle(_ messageID: MessageKey, _ fate: SendFate?, _ out: inout [ClientDirective]) {
        guard let entry = outbox[messageID], entry.durable, !entry.settling else { return }
        outbox[messageID]?.settling = true
        // An owed skip's fate was told when the payload was refused.
        if let fate, !entry.owesSkip { out.append(.fate(messageID, fate)) }
        write(.settle(messageID), .settled(messageID), &out)
    }

    // MARK: Receiving

    private mutating func receive(_ message: MailMessage, _ path: DeliveryPath, _ out: inout [ClientDirective]) {
        guard message.recipient == id else { return }
        let sender = message.id.sender
        let sequence = message.id.sequence
        let through = taken[sender] ?? 0
        if sequence <= through {
            // A duplicate: acknowledged again once its first copy is durably taken.
            if sequence <= durableThrough[sender] ?? 0 { acknowledge(message.id, path, &out) }
            return
        }
        guard sequence == through + 1 else {
            if buffer[sender, default: [:]].count < Self.bufferLimit || buffer[sender]?[sequence] != nil {
                if buffer[sender]?[sequence] == nil { buffer[sender, default: [:]][sequence] = (message, path) }
            }
            return
        }
        var next: (MailMessage, DeliveryPath)? = (message, path)
        while let (current, currentPath) = next {
            taken[sender] = current.id.sequence
            write(.receive(current), .received(current, currentPath), &out)
            next = buffer[sender]?.removeValue(forKey: current.id.sequence + 1)
        }
        buffer[sender] = buffer[sender]?.filter { $0.key > taken[sender] ?? 0 }
    }

    private mutating func acknowledge(_ messageID: MessageID, _ path: DeliveryPath, _ out: inout [ClientDirective]) {
        switch path {
        case .direct(let peer) where peers.contains(peer):
            out.append(.toPeer(peer, .acknowledge(messageID)))
        case .relay(let server) where servers.contains(server):
            out.append(.toServer(server, .acknowledge(messageID)))
        default:
            if let server = servers.first { out.append(.toServer(server, .acknowledge(messageID))) }
        }
    }

    // MARK: Ledger

    private mutating func write(_ change: LedgerWrite, _ then: PendingWrite, _ out: inout [ClientDirective]) {
        nextToken += 1
        pending[nextToken] = then
        out.append(.write(change, token: nextToken))
    }

    private mutating func written(_ token: UInt64, _ out: inout [ClientDirective]) {
        switch pending.removeValue(forKey: token) {
        case .accepted(let messageID):
            outbox[messageID]?.durable = true
            attempt(messageID, &out)
        case .settled(let messageID):
            outbox[messageID] = nil
        case .received(let message, let path):
            let sender = message.id.sender
            durableThrough[sender] = max(durableThrough[sender] ?? 0, message.id.sequence)
            if !message.isSkip { out.append(.handOver(message, path: path)) }
            acknowledge(message.id, path, &out)
        case .other, nil:
            break
        }
    }

    private mutating func subscribe(_ server: NodeID, _ out: inout [ClientDirective]) {
        lastSubscribe = now
        out.append(.toServer(server, .subscribe(true)))
    }

    /// A deterministic order of messages (dictionaries iterate in a per-process order).
    static func order(_ a: MailMessage, _ b: MailMessage) -> Bool {
        if a.recipient != b.recipient { return a.recipient < b.recipient }
        if a.id.sender != b.id.sender { return a.id.sender < b.id.sender }
        return a.id.sequence < b.id.sequence
    }
}
