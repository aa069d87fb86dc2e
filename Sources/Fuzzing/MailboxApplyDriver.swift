import Foundation
import LMDB
import Mailbox
import MessageModel
import P2PCore

/// `mailbox-apply`: MailboxCommand bytes (valid, mutated or arbitrary) applied to a MailboxStore on
/// a temporary LMDB environment that every input restores to the same state first. Invariants:
/// applying never throws, the applied index is monotonic, an enqueued message is present or
/// refused, a mailbox's counts are never negative and agree with its content.
struct MailboxApplyDriver: FuzzDriver {
    static let clients = (1...4).map { NodeID(bytes: [UInt8](repeating: 0, count: 15) + [UInt8($0)]) ?? .random() }
    let environment: Environment
    let store: MailboxStore
    let baseline: [UInt8]
    static let baselineIndex: UInt64 = 100

    init() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("p2pcore-fuzz-\(getpid())-\(UInt64.random(in: 0...UInt64.max))").path
        var configuration = Environment.Configuration()
        configuration.syncOnCommit = false
        environment = try Environment(path: path, configuration: configuration)
        // The files stay open after the directory is gone: nothing is left behind.
        try? FileManager.default.removeItem(atPath: path)
        store = try MailboxStore(environment: environment, limits: MailboxLimits(maximumMessages: 6, maximumBytes: 64))
        var commands: [MailboxCommand] = Self.clients.map { .register(ClientRecord(id: $0, publicKey: [UInt8](repeating: $0.bytes[15], count: 32))) }
        for sequence in 1...3 {
            commands.append(.enqueue(MailMessage(id: MessageID(sender: Self.clients[0], sequence: UInt64(sequence)), recipient: Self.clients[1],
                                                 payload: [UInt8(sequence)], enqueuedAtMillis: UInt64(sequence))))
        }
        commands.append(.acknowledge(recipient: Self.clients[1], id: MessageID(sender: Self.clients[0], sequence: 1)))
        commands.append(.attach(client: Self.clients[2], server: Self.clients[3], observedAddress: "10.0.0.1:9", atMillis: 5))
        try store.apply(commands.enumerated().map { MailboxStore.Entry(index: UInt64($0.offset + 1), term: 1, command: $0.element.encoded()) })
        baseline = try store.snapshot().data
    }

    mutating func run(_ random: inout FuzzRandom) -> FuzzVerdict {
        do {
            try store.restore(snapshot: baseline, index: Self.baselineIndex, term: 1)
            var applied = Self.baselineIndex
            for _ in 0..<(1 + random.below(4)) {
                let valid = Self.command(&random)
                let bytes = random.oneIn(4) ? valid.encoded() : Mutator.input(valid: valid.encoded(), donor: Self.command(&random).encoded(), random: &random)
                let decoded = try? MailboxCommand(decoding: bytes)
                if let decoded, (try? MailboxCommand(decoding: decoded.encoded())) != decoded {
                    return .violation("decode(encode(x)) != x for \(decoded)")
                }
                let index = random.oneIn(8) ? applied &- UInt64(random.below(3)) : applied + 1 + UInt64(random.below(2))
                let outcomes = try store.apply([MailboxStore.Entry(index: index, term: 2, command: bytes)])
                let now = try store.applied().index
                if now < applied { return .violation("applied index went back from \(applied) to \(now)") }
                if now != max(applied, index) { return .violation("applied index \(now) after applying \(index) at \(applied)") }
                applied = now
                if let reason = try check(decoded, outcomes.first?.outcome) { return .violation(reason) }
            }
            return .ok
        } catch {
            return .crash("MailboxStore threw: \(error)")
        }
    }

    /// Whether the command's effect and the touched mailboxes are consistent.
    func check(_ command: MailboxCommand?, _ outcome: MailboxOutcome?) throws -> String? {
        var recipients = [Self.clients[1]]
        if case .enqueue(let message) = command, outcome != nil {
            recipients.append(message.recipient)
            let present = try store.messages(for: message.recipient, limit: 10_000).contains { $0.message.id == message.id }
            switch outcome {
            case .stored, .mailboxFull:
                if !present { return "enqueue answered \(String(describing: outcome)) but the message (or its skip) is absent" }
            case .unknownRecipient, .invalidCommand:
                if present && outcome == .unknownRecipient { return "a message to an unknown recipient is present" }
            case .alreadyDelivered:
                break
            default:
                return "enqueue answered \(String(describing: outcome))"
            }
        }
        for recipient in recipients {
            let stats = try store.stats(for: recipient)
            if stats.messages < 0 || stats.bytes < 0 { return "negative counts \(stats) for \(recipient)" }
            let content = try store.messages(for: recipient, limit: 10_000).filter { !$0.message.isSkip }
            if content.count != stats.messages { return "count \(stats.messages) but \(content.count) messages for \(recipient)" }
            if content.reduce(0, { $0 + $1.message.payload.count }) != stats.bytes { return "bytes \(stats.bytes) disagree with the content for \(recipient)" }
            if stats.messages > store.limits.maximumMessages { return "\(stats.messages) messages over the limit" }
        }
        return nil
    }

    static func command(_ random: inout FuzzRandom) -> MailboxCommand {
        let id = random.nodeID(clients)
        switch random.below(10) {
        case 0:
            return .register(ClientRecord(
                id: id, publicKey: random.oneIn(3) ? random.bytes(32) : [UInt8](repeating: id.bytes[15], count: 32),
                lanAddresses: (0..<random.below(3)).map { _ in random.string() }, wanAddresses: [random.string()],
                listenAddress: random.string(), listenPort: UInt16(truncatingIfNeeded: random.next()), attachedServers: [random.nodeID(clients)],
                lastSeenMillis: random.integer(), relayedMessages: random.integer(), relayedBytes: random.integer()
            ))
        case 1:
            return .attach(client: id, server: random.nodeID(clients), observedAddress: random.oneIn(2) ? random.string() : nil, atMillis: random.integer())
        case 2:
            return .detach(client: id, server: random.nodeID(clients), atMillis: random.integer())
        case 3, 4, 5:
            let message = MailMessage(id: MessageID(sender: random.nodeID(clients), sequence: random.integer(small: 8)), recipient: id,
                                      payload: random.bytes(random.oneIn(4) ? random.below(80) : random.below(8)), enqueuedAtMillis: random.integer(),
                                      isSkip: random.oneIn(10))
            return .enqueue(message)
        case 6:
            return .acknowledge(recipient: id, id: MessageID(sender: random.nodeID(clients), sequence: random.integer(small: 8)))
        case 7:
            return random.oneIn(2) ? .purge(recipient: id) : .delete(recipient: id, id: MessageID(sender: random.nodeID(clients), sequence: random.integer(small: 8)))
        case 8:
            switch random.below(3) {
            case 0: return .forgetServer(random.nodeID(clients))
            case 1: return .retireServer(random.nodeID(clients))
            default: return .admitServer(id: id, address: random.string())
            }
        default:
            return .registerServer(id: id, address: random.string())
        }
    }
}
