import Delivery
import MessageModel
import P2PCore

/// Drives a ``ClientCore`` for tests: feeds inputs at a logical clock and acts as a ledger that
/// assigns sequences and confirms every write at once (unless told to hold them).
struct CoreHarness {
    var core: ClientCore
    var now: UInt64 = 0
    var nextSequence: [NodeID: UInt64] = [:]
    /// Batches written (and confirmed), in order.
    var written: [LedgerBatch] = []
    /// Batches not confirmed yet, when `holdWrites` is on.
    var held: [LedgerBatch] = []
    var holdWrites = false
    /// Every directive except `persist`, in order, since the last `take()`.
    var log: [ClientCore.Directive] = []

    init(me: NodeID = NodeID.random(), restoring ledger: LedgerContents = LedgerContents(), configuration: ClientCore.Configuration = .init(), seed: UInt64 = 1) {
        core = ClientCore(me: me, restoring: ledger, configuration: configuration, seed: seed)
    }

    var me: NodeID { core.me }

    mutating func feed(_ input: ClientCore.Input) {
        run(core.step(input, now: now))
    }

    mutating func advance(to time: UInt64) {
        now = time
        feed(.tick)
    }

    mutating func advance(by milliseconds: UInt64) { advance(to: now + milliseconds) }

    private mutating func run(_ directives: [ClientCore.Directive]) {
        for directive in directives {
            guard case .persist(let batch) = directive else {
                log.append(directive)
                continue
            }
            if holdWrites { held.append(batch) } else { confirm(batch) }
        }
    }

    mutating func confirm(_ batch: LedgerBatch) {
        written.append(batch)
        var prepared: [MessageID] = []
        for operation in batch.operations {
            if case .prepare(let recipient, _, _) = operation {
                let sequence = (nextSequence[recipient] ?? 0) + 1
                nextSequence[recipient] = sequence
                prepared.append(MessageID(sender: me, sequence: sequence))
            }
        }
        run(core.step(.persisted(batch: batch.number, prepared: prepared), now: now))
    }

    mutating func releaseHeld() {
        let batches = held
        held = []
        for batch in batches { confirm(batch) }
    }

    /// The directives logged since the last call.
    mutating func take() -> [ClientCore.Directive] {
        defer { log = [] }
        return log
    }

    var operations: [LedgerOperation] { written.flatMap(\.operations) }
}

func message(from sender: NodeID, to recipient: NodeID, _ sequence: UInt64, skip: Bool = false) -> MailMessage {
    MailMessage(
        id: MessageID(sender: sender, sequence: sequence), recipient: recipient,
        payload: skip ? [] : [UInt8(truncatingIfNeeded: sequence)], enqueuedAtMillis: 0, isSkip: skip
    )
}
