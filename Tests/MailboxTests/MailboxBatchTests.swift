import ClusterHarness
import MessageModel
import Testing
@testable import Mailbox
@testable import P2PCore

/// Several commands in one log entry (a link's burst of sends or acknowledgements): applied in
/// order, each with its own outcome, exactly as if they had been separate entries.
@Suite struct MailboxBatchTests {
    let alice = NodeID.random()
    let bob = NodeID.random()

    private func message(_ sequence: UInt64) -> MailMessage {
        MailMessage(id: MessageID(sender: alice, sequence: sequence), recipient: bob, payload: [UInt8(sequence)], enqueuedAtMillis: sequence)
    }

    @Test func aBatchAppliesInOrderWithAnOutcomeEach() throws {
        let fixture = try StoreFixture()
        try fixture.register(bob)
        let outcomes = try fixture.apply(.batch([
            .enqueue(message(1)), .enqueue(message(2)), .enqueue(message(1)),
            .enqueue(MailMessage(id: MessageID(sender: alice, sequence: 1), recipient: NodeID.random(), payload: [1], enqueuedAtMillis: 1)),
            .acknowledge(recipient: bob, id: MessageID(sender: alice, sequence: 1)),
        ]))
        #expect(outcomes == [.batch([.stored, .stored, .stored, .unknownRecipient, .done])])
        #expect(try fixture.store.messages(for: bob).map(\.message.id.sequence) == [2])
        #expect(try fixture.store.deliveredThrough(recipient: bob, sender: alice) == 1)
    }

    /// Commands and outcomes come from peers (proposals, replies): ~100,000 levels of batch in
    /// batch are refused at the second level, not decoded by a recursion that would overflow the
    /// stack of every replica applying the entry.
    @Test func deeplyNestedBatchesAreRefusedWithoutRecursing() throws {
        let inner = MailboxCommand.purge(recipient: bob).encoded()
        let commands = NestedEncoding.lengthPrefixed(oneLevel: MailboxCommand.batch([.purge(recipient: bob)]).encoded(), inner: inner, levels: 100_000)
        #expect(throws: DecodingError.malformed(field: "batch.command", reason: "a batch inside a batch")) { try MailboxCommand(decoding: commands) }
        func encoded(_ outcome: MailboxOutcome) -> [UInt8] {
            var writer = ByteWriter()
            outcome.encode(into: &writer)
            return writer.bytes
        }
        let outcomes = NestedEncoding.unprefixed(oneLevel: encoded(.batch([.stored])), inner: encoded(.stored), levels: 200_000)
        var reader = ByteReader(outcomes)
        #expect(throws: DecodingError.malformed(field: "outcome.batch", reason: "a batch inside a batch")) { try MailboxOutcome.decode(from: &reader) }
    }

    @Test func aBatchLeavesTheSameStateAsSeparateEntries() throws {
        let batched = try StoreFixture(), separate = try StoreFixture()
        let commands: [MailboxCommand] = [
            .register(ClientRecord(id: bob, publicKey: [1])),
            .enqueue(message(1)), .enqueue(message(2)), .acknowledge(recipient: bob, id: MessageID(sender: alice, sequence: 1)),
        ]
        try batched.apply(.batch(commands))
        for command in commands { try separate.apply(command) }
        #expect(try batched.store.messages(for: bob).map(\.message) == separate.store.messages(for: bob).map(\.message))
        #expect(try batched.store.stats(for: bob) == separate.store.stats(for: bob))
    }
}
