import P2PCore
import Synchronization

/// Records every send and its result and every receive, from all client processes, and checks
/// them against the delivery guarantees.
final class DeliveryChecker: Sendable {
    enum Outcome: Equatable, Sendable {
        case ok, stored, pending
        case failed(String)

        var isFailure: Bool { if case .failed = self { true } else { false } }
    }

    struct Send: Sendable {
        let sender: Int
        let recipient: Int
        let size: Int
        let fingerprint: UInt64
        var outcome: Outcome?
        var sequence: UInt64?
    }

    struct Key: Hashable, Sendable {
        let sender: Int
        let recipient: Int
        let sequence: UInt64
    }

    struct Receipt: Sendable {
        let key: Key
        let size: Int
        let fingerprint: UInt64
    }

    private struct State {
        var sends: [UInt64: Send] = [:]
        var bySequence: [Key: UInt64] = [:]
        var receipts: [Receipt] = []
        var receivedKeys: Set<Key> = []
        var lastSequence: [Pair: UInt64] = [:]
        var outstanding: [Int: Int] = [:]
        var duplicated = 0
        var directDeliveries = 0, relayedDeliveries = 0
        var reordered = 0
        var violations: [String] = []
    }

    struct Pair: Hashable { let sender: Int, recipient: Int }

    let ids: [NodeID]
    private let indexByID: [NodeID: Int]
    private let state = Mutex(State())

    init(ids: [NodeID]) {
        self.ids = ids
        indexByID = Dictionary(uniqueKeysWithValues: ids.enumerated().map { ($1, $0) })
    }

    /// Called before the send command goes to the sender's process.
    func willSend(tag: UInt64, from sender: Int, to recipient: Int, size: Int) {
        let fingerprint = Payload.fingerprint(Payload.bytes(tag: tag, size: size))
        state.withLock { state in
            state.sends[tag] = Send(sender: sender, recipient: recipient, size: size, fingerprint: fingerprint)
            state.outstanding[sender, default: 0] += 1
        }
    }

    func outstanding(from sender: Int) -> Int { state.withLock { $0.outstanding[sender] ?? 0 } }

    /// One line of client `client`'s output.
    func handle(_ line: String, from client: Int) {
        let words = line.split(separator: " ").map(String.init)
        switch words.first {
        case "sent" where words.count >= 3:
            guard let tag = UInt64(words[1]) else { return note("client \(client): malformed line '\(line)'") }
            let outcome: Outcome
            switch words[2] {
            case "ok": outcome = .ok
            case "stored": outcome = .stored
            case "pending": outcome = .pending
            default: outcome = .failed(words.dropFirst(3).joined(separator: " "))
            }
            let sequence = words.count >= 4 && !outcome.isFailure ? UInt64(words[3]) : nil
            state.withLock { state in
                guard var send = state.sends[tag], send.outcome == nil else {
                    state.violations.append("a result for tag \(tag) that was never sent or already had one")
                    return
                }
                send.outcome = outcome
                send.sequence = sequence
                state.sends[tag] = send
                state.outstanding[send.sender, default: 1] -= 1
                if let sequence {
                    state.bySequence[Key(sender: send.sender, recipient: send.recipient, sequence: sequence)] = tag
                }
            }
        case "recv" where words.count == 5:
            guard let from = NodeID(uuidString: words[1]), let sender = indexByID[from], let sequence = UInt64(words[2]),
                  let size = Int(words[3]), let fingerprint = UInt64(words[4])
            else { return note("client \(client) received from an unknown sender: '\(line)'") }
            let key = Key(sender: sender, recipient: client, sequence: sequence)
            state.withLock { state in
                guard state.receivedKeys.insert(key).inserted else {
                    state.duplicated += 1
                    state.violations.append("duplicate: c\(client) received c\(sender)#\(sequence) twice")
                    return
                }
                let pair = Pair(sender: sender, recipient: client)
                if let last = state.lastSequence[pair], sequence <= last {
                    state.reordered += 1
                    state.violations.append("out of order: c\(client) received c\(sender)#\(sequence) after #\(last)")
                }
                state.lastSequence[pair] = max(sequence, state.lastSequence[pair] ?? 0)
                state.receipts.append(Receipt(key: key, size: size, fingerprint: fingerprint))
            }
        case "deliveries" where words.count == 3:
            guard let direct = Int(words[1]), let relayed = Int(words[2]) else { return note("client \(client): malformed line '\(line)'") }
            state.withLock { state in
                state.directDeliveries += direct
                state.relayedDeliveries += relayed
            }
        case "receive-error":
            note("client \(client): \(line)")
        default:
            return
        }
    }

    private func note(_ violation: String) {
        state.withLock { $0.violations.append(violation) }
    }

    /// Acknowledgements senders saw on a direct path / through the relay, as the client
    /// processes reported them when they stopped.
    var deliveryPaths: (direct: Int, relayed: Int) {
        state.withLock { ($0.directDeliveries, $0.relayedDeliveries) }
    }

    /// Accepted messages not received yet.
    var undelivered: Int {
        state.withLock { state in
            state.sends.values.filter { send in
                guard let outcome = send.outcome, !outcome.isFailure, let sequence = send.sequence else { return false }
                return !state.receivedKeys.contains(Key(sender: send.sender, recipient: send.recipient, sequence: sequence))
            }.count
        }
    }

    /// How the sends so far that `include(tag, sender, recipient)` selects ended.
    struct Tally: Sendable {
        var sent = 0, ok = 0, stored = 0, pending = 0, failed = 0, unresolved = 0
        /// Committed to the recipient's mailbox (`ok` or `stored`).
        var committed: Int { ok + stored }
    }

    func tally(_ include: (_ tag: UInt64, _ sender: Int, _ recipient: Int) -> Bool) -> Tally {
        state.withLock { state in
            var tally = Tally()
            for (tag, send) in state.sends where include(tag, send.sender, send.recipient) {
                tally.sent += 1
                switch send.outcome {
                case nil: tally.unresolved += 1
                case .ok?: tally.ok += 1
                case .stored?: tally.stored += 1
                case .pending?: tally.pending += 1
                case .failed?: tally.failed += 1
                }
            }
            return tally
        }
    }

    struct Report: Sendable {
        var sent = 0, accepted = 0, ok = 0, stored = 0, pending = 0, failed = 0
        var delivered = 0, lost = 0, duplicated = 0, reordered = 0, corrupted = 0, unknown = 0, unresolved = 0
        var violations: [String] = []
        var failures: [String: Int] = [:]
    }

    /// Checks everything recorded (call once the workload stopped and deliveries settled).
    func verify() -> Report {
        state.withLock { state in
            var report = Report(duplicated: state.duplicated, reordered: state.reordered, violations: state.violations)
            report.sent = state.sends.count
            for send in state.sends.values {
                switch send.outcome {
                case nil:
                    report.unresolved += 1
                case .ok?: report.ok += 1
                case .stored?: report.stored += 1
                case .pending?: report.pending += 1
                case .failed(let why)?:
                    report.failed += 1
                    report.failures[String(why.prefix(40)), default: 0] += 1
                }
                guard let outcome = send.outcome, !outcome.isFailure else { continue }
                report.accepted += 1
                guard let sequence = send.sequence,
                      state.receivedKeys.contains(Key(sender: send.sender, recipient: send.recipient, sequence: sequence)) else {
                    report.lost += 1
                    report.violations.append("lost: c\(send.sender) → c\(send.recipient) #\(send.sequence ?? 0) (\(outcome))")
                    continue
                }
            }
            for receipt in state.receipts {
                guard let tag = state.bySequence[receipt.key], let send = state.sends[tag] else {
                    report.unknown += 1
                    report.violations.append("received but never accepted: c\(receipt.key.recipient) got c\(receipt.key.sender)#\(receipt.key.sequence)")
                    continue
                }
                report.delivered += 1
                if send.size != receipt.size || send.fingerprint != receipt.fingerprint {
                    report.corrupted += 1
                    report.violations.append("corrupted: c\(receipt.key.sender)#\(receipt.key.sequence) to c\(receipt.key.recipient)")
                }
            }
            if report.unresolved > 0 { report.violations.append("\(report.unresolved) sends never reported a result") }
            return report
        }
    }
}
