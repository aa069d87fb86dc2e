import MessageModel
import Testing
@testable import Mailbox
@testable import P2PCore

@Suite struct MailboxQueryTests {
    let alice = NodeID.random()
    let bob = NodeID.random()
    let carol = NodeID.random()

    @Test func sequenceHeadsTakeEachSendersLowestAndStopAtTheLimit() throws {
        let fixture = try StoreFixture()
        for id in [alice, bob, carol] { try fixture.register(id) }
        // Alice's 50…1 and carol's 1…50 arrive interleaved, each sender's order reversed for alice.
        for step in UInt64(1)...50 {
            try fixture.apply(.enqueue(message(alice, 51 - step, to: bob)), .enqueue(message(carol, step, to: bob)))
        }
        let heads = try fixture.store.sequenceHeads(for: bob, perSender: 3, limit: 100)
        let bySender = Dictionary(grouping: heads.map(\.message.id), by: \.sender).mapValues { $0.map(\.sequence) }
        #expect(bySender[alice] == [1, 2, 3])
        #expect(bySender[carol] == [1, 2, 3])
        #expect(heads.count == 6)
        let capped = try fixture.store.sequenceHeads(for: bob, perSender: 3, limit: 4)
        #expect(capped.count == 4)
        #expect(try fixture.store.sequenceHeads(for: carol, perSender: 3, limit: 10).isEmpty)
    }

    @Test func onlyHeldItemsAreHeld() throws {
        let fixture = try StoreFixture()
        for id in [alice, bob] { try fixture.register(id) }
        try fixture.apply(.enqueue(message(alice, 1, to: bob)))
        let id = MessageID(sender: alice, sequence: 1)
        #expect(try fixture.store.holdsItem(id, for: bob))
        #expect(try !fixture.store.holdsItem(MessageID(sender: alice, sequence: 2), for: bob))
        try fixture.apply(.acknowledge(recipient: bob, id: id))
        #expect(try !fixture.store.holdsItem(id, for: bob), "an acknowledged message is gone")
    }
}
