import Delivery
import ClientProtocol
import Foundation
import LMDB
import Mailbox
import MessageModel
import P2PClient
import P2PCore

/// `client-ledger`: what a client does with server pushes, without sockets. ClientEngine is an
/// actor bound to live links, so this target drives the parts it delegates to: ServerPush
/// decoding (mutated and arbitrary bytes, with round trip) and the ClientLedger's sequencing and
/// delivery order, fed the message ids of decoded `deliver` / `delivered` pushes. Invariants:
/// sequences are assigned consecutively per recipient, the outbox holds exactly what was prepared
/// and not resolved, and only a sender's next sequence is ever accepted as delivered.
struct ClientLedgerDriver: FuzzDriver {
    let environment: Environment
    let ledger: ClientLedger
    static let me = NodeID(bytes: [UInt8](repeating: 0xEE, count: 16)) ?? .random()

    init() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("p2pcore-fuzz-ledger-\(getpid())-\(UInt64.random(in: 0...UInt64.max))").path
        var configuration = Environment.Configuration()
        configuration.syncOnCommit = false
        environment = try Environment(path: path, configuration: configuration)
        try? FileManager.default.removeItem(atPath: path)
        ledger = try ClientLedger(environment: environment, me: Self.me)
    }

    mutating func run(_ random: inout FuzzRandom) -> FuzzVerdict {
        // Fresh ids for every input: the inputs do not share state, whatever ran before.
        let peers = (0..<2).map { _ in NodeID(bytes: random.bytes(16)) ?? .random() }
        do {
            var expectedNext: [NodeID: UInt64] = [:]
            var outbox: Set<[UInt8]> = []
            var delivered: [NodeID: UInt64] = [:]
            for _ in 0..<(1 + random.below(6)) {
                switch random.below(4) {
                case 0:
                    let recipient = random.pick(peers)
                    let prepared = try ledger.prepare(to: recipient, payloads: (0..<random.below(4)).map { _ in random.bytes(random.below(8)) })
                    for message in prepared {
                        let want = (expectedNext[recipient] ?? 0) + 1
                        if message.id.sequence != want || message.id.sender != Self.me { return .violation("prepared \(message.id), expected sequence \(want)") }
                        expectedNext[recipient] = want
                        outbox.insert(recipient.bytes + message.id.sequence.bigEndianBytes)
                    }
                case 1:
                    let recipient = random.pick(peers)
                    let sequence = random.oneIn(3) ? random.integer() : UInt64(random.below(Int(expectedNext[recipient] ?? 0) + 2))
                    try ledger.resolve([(recipient, sequence)])
                    outbox.remove(recipient.bytes + sequence.bigEndianBytes)
                default:
                    // A push from a server, possibly mangled: a delivered message is recorded only in order.
                    let sender = random.pick(peers)
                    let through = delivered[sender] ?? 0
                    let sequence = random.oneIn(3) ? random.integer() : through &+ UInt64(random.below(3))
                    let push: ServerPush = .deliver(MailMessage(id: MessageID(sender: sender, sequence: sequence), recipient: Self.me, payload: random.bytes(4), enqueuedAtMillis: 1))
                    let bytes = random.oneIn(2) ? push.encoded() : Mutator.input(valid: push.encoded(), random: &random)
                    guard let decoded = try? ServerPush(decoding: bytes) else { continue }
                    if (try? ServerPush(decoding: decoded.encoded())) != decoded { return .violation("ServerPush: decode(encode(x)) != x for \(decoded)") }
                    guard case .deliver(let message) = decoded, peers.contains(message.id.sender) else { continue }
                    let before = delivered[message.id.sender] ?? 0
                    do {
                        try ledger.markDelivered(message.id)
                        if message.id.sequence != before + 1 { return .violation("accepted \(message.id) after \(before)") }
                        delivered[message.id.sender] = message.id.sequence
                    } catch ClientLedger.LedgerError.outOfOrder {
                        if message.id.sequence == before + 1 { return .violation("refused the next sequence \(message.id)") }
                    }
                    if try ledger.deliveredThrough(message.id.sender) != delivered[message.id.sender] ?? 0 {
                        return .violation("deliveredThrough disagrees for \(message.id.sender)")
                    }
                }
            }
            let pending = try ledger.pending().filter { peers.contains($0.recipient) }
            if Set(pending.map { $0.recipient.bytes + $0.id.sequence.bigEndianBytes }) != outbox || pending.count != outbox.count {
                return .violation("outbox holds \(pending.count) messages, expected \(outbox.count)")
            }
            try ledger.resolve(pending.map { ($0.recipient, $0.id.sequence) })  // leave the outbox empty for the next input
            return .ok
        } catch {
            return .crash("ClientLedger threw: \(error)")
        }
    }
}
