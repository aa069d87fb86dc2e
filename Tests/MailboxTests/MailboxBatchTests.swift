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
