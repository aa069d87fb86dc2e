import Foundation
import LMDB
import MessageModel
import Testing
@testable import Mailbox
@testable import P2PCore

private func expiring(_ sender: NodeID, _ sequence: UInt64, to recipient: NodeID, at expiry: UInt64, enqueuedAt: UInt64 = 1_000) -> MailMessage {
    MailMessage(
        id: MessageID(sender: sender, sequence: sequence), recipient: recipient, payload: Array("m\(sequence)".utf8),
        enqueuedAtMillis: enqueuedAt, expiresAtMillis: expiry
    )
}

/// The mailbox decides each expiring message's fate once: the recipient's claim or the
/// leader's expire, whichever committed first (docs/DELIVERY.md, "Expiry").
@Suite struct MailboxExpiryTests {
    let alice = NodeID.random()
    let bob = NodeID.random()

    private func fixture() throws -> StoreFixture {
        let fixture = try StoreFixture()
        for id in [alice, bob] { try fixture.register(id) }
        return fixture
    }

    private func id(_ sequence: UInt64) -> MessageID { MessageID(sender: alice, sequence: sequence) }

    @Test func expireTurnsAnUnclaimedDueMessageIntoASkipAndRetriesLearnExpired() throws {
        let fixture = try fixture()
        let original = expiring(alice, 1, to: bob, at: 5_000)
        try fixture.apply(.enqueue(original), .enqueue(message(alice, 2, to: bob)))
        #expect(try fixture.store.dueExpirations(atMillis: 4_999).isEmpty)
        #expect(try fixture.store.dueExpirations(atMillis: 5_000).map(\.id) == [id(1)])
        #expect(try fixture.apply(.expire(recipient: bob, id: id(1), atMillis: 4_999)) == [.notFound], "not due yet by the proposer's clock")
        #expect(try fixture.apply(.expire(recipient: bob, id: id(1), atMillis: 5_000)) == [.expired])
        #expect(try fixture.store.dueExpirations(atMillis: .max).isEmpty)
        let mailbox = try fixture.store.messages(for: bob).map(\.message)
        #expect(mailbox.map(\.isSkip) == [true, false], "the recipient passes over it; the next one waits in order")
        #expect(try fixture.store.stats(for: bob).messages == 1)
        #expect(try fixture.store.hasExpired(recipient: bob, id: id(1)))
        // Every later word on the id says expired: a retried enqueue, a claim, even after the
        // recipient acknowledged the skip (the watermark alone would say "delivered").
        #expect(try fixture.apply(.enqueue(original)) == [.expired])
        #expect(try fixture.apply(.claim(recipient: bob, id: id(1))) == [.expired])
        #expect(try fixture.apply(.acknowledge(recipient: bob, id: id(1))) == [.skipAcknowledged])
        #expect(try fixture.apply(.acknowledge(recipient: bob, id: id(1))) == [.skipAcknowledged], "a repeated acknowledgement tells no one \"delivered\"")
        #expect(try fixture.apply(.enqueue(original)) == [.expired])
        #expect(try fixture.apply(.expire(recipient: bob, id: id(1), atMillis: 9_000)) == [.notFound])
    }

    @Test func aClaimedMessageNeverExpires() throws {
        let fixture = try fixture()
        try fixture.apply(.enqueue(expiring(alice, 1, to: bob, at: 5_000)))
        #expect(try fixture.apply(.claim(recipient: bob, id: id(1))) == [.claimed])
        #expect(try fixture.store.dueExpirations(atMillis: .max).isEmpty, "the sweep no longer sees it")
        #expect(try fixture.apply(.expire(recipient: bob, id: id(1), atMillis: 6_000)) == [.claimed])
        #expect(try fixture.apply(.claim(recipient: bob, id: id(1))) == [.claimed], "a claim again (after a restart) is granted again")
        #expect(try fixture.apply(.acknowledge(recipient: bob, id: id(1))) == [.done])
        #expect(try fixture.apply(.enqueue(expiring(alice, 1, to: bob, at: 5_000, enqueuedAt: 7_000))) == [.alreadyDelivered])
        #expect(try !fixture.store.hasExpired(recipient: bob, id: id(1)))
    }

    @Test func aMessageThatArrivesExpiredLeavesOnlyASkip() throws {
        let fixture = try fixture()
        #expect(try fixture.apply(.enqueue(expiring(alice, 1, to: bob, at: 900))) == [.expired])
        #expect(try fixture.store.messages(for: bob).map(\.message.isSkip) == [true])
        #expect(try fixture.store.stats(for: bob).messages == 0)
        #expect(try fixture.apply(.claim(recipient: bob, id: id(1))) == [.expired])
    }

    @Test func claimsOfSkipsAndUnknownIds() throws {
        let fixture = try fixture()
        try fixture.apply(.enqueue(message(alice, 1, to: bob)), .delete(recipient: bob, id: id(1)))
        #expect(try fixture.apply(.claim(recipient: bob, id: id(1))) == [.skipped])
        #expect(try fixture.apply(.claim(recipient: bob, id: id(2))) == [.notFound])
    }

    @Test func expiryStateTravelsInSnapshotsAndCommandsRoundTrip() throws {
        let source = try fixture()
        try source.apply(.enqueue(expiring(alice, 1, to: bob, at: 5_000)), .enqueue(expiring(alice, 2, to: bob, at: 6_000)))
        try source.apply(.expire(recipient: bob, id: id(1), atMillis: 5_000))
        let snapshot = try source.store.snapshot()
        let replica = try StoreFixture()
        try replica.store.restore(snapshot: snapshot.data, index: snapshot.index, term: snapshot.term)
        #expect(try replica.store.hasExpired(recipient: bob, id: id(1)))
        #expect(try replica.store.dueExpirations(atMillis: .max).map(\.id) == [id(2)])
        #expect(try replica.store.digest().digest == source.store.digest().digest)
        for command in [MailboxCommand.expire(recipient: bob, id: id(3), atMillis: 42), .claim(recipient: bob, id: id(4)), .enqueue(expiring(alice, 5, to: bob, at: 7))] {
            #expect(try MailboxCommand(decoding: command.encoded()) == command)
        }
    }
}
