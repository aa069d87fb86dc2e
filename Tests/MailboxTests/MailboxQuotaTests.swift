import Foundation
import LMDB
import MessageModel
import Testing
@testable import Mailbox
@testable import P2PCore

private func skip(_ sender: NodeID, _ sequence: UInt64, to recipient: NodeID) -> MailMessage {
    MailMessage(id: MessageID(sender: sender, sequence: sequence), recipient: recipient, payload: [], enqueuedAtMillis: 1, isSkip: true)
}

@Suite struct MailboxQuotaTests {
    let alice = NodeID.random()
    let bob = NodeID.random()
    let carol = NodeID.random()

    // MARK: Field caps

    @Test func aRecordOverTheCapsIsRefusedWithAnOutcome() throws {
        let fixture = try StoreFixture()
        let key = Array(alice.bytes.reversed())
        let lan = (0..<17).map { "10.0.0.\($0):7000" }
        #expect(try fixture.apply(.register(ClientRecord(id: alice, publicKey: key, lanAddresses: lan)))
            == [.fieldOverLimit(field: "client.lan", limit: ClientRecord.Limits.maximumLANAddresses)])
        #expect(try fixture.store.client(alice) == nil)

        let longHost = String(repeating: "a", count: 70) + ":7000"
        #expect(try fixture.apply(.register(ClientRecord(id: alice, publicKey: key, lanAddresses: [longHost])))
            == [.fieldOverLimit(field: "client.lan", limit: ClientRecord.Limits.maximumAddressLength)])
        #expect(try fixture.apply(.register(ClientRecord(id: alice, publicKey: key, lanAddresses: ["no port"])))
            == [.fieldOverLimit(field: "client.lan", limit: ClientRecord.Limits.maximumAddressLength)])
        #expect(try fixture.apply(.register(ClientRecord(id: alice, publicKey: key, listenAddress: String(repeating: "h", count: 65))))
            == [.fieldOverLimit(field: "client.listenAddress", limit: ClientRecord.Limits.maximumListenAddressLength)])
        #expect(try fixture.apply(.register(ClientRecord(id: alice, publicKey: [UInt8](repeating: 1, count: 65))))
            == [.fieldOverLimit(field: "client.publicKey", limit: ClientRecord.Limits.maximumPublicKeyLength)])

        // At the caps it is accepted, and a later oversized update leaves the record alone.
        let full = (0..<16).map { "10.0.0.\($0):7000" }
        #expect(try fixture.apply(.register(ClientRecord(id: alice, publicKey: key, lanAddresses: full, listenAddress: "10.0.0.1"))) == [.done])
        #expect(try fixture.apply(.register(ClientRecord(id: alice, publicKey: key, lanAddresses: lan))) != [.done])
        #expect(try fixture.store.client(alice)?.lanAddresses == full)
    }

    @Test func observedAddressesAndAttachmentsStayWithinTheCaps() throws {
        let fixture = try StoreFixture()
        try fixture.register(alice)
        for port in 1...12 {
            try fixture.apply(.attach(client: alice, server: .random(), observedAddress: "203.0.113.7:\(port)", atMillis: 1))
        }
        try fixture.apply(.attach(client: alice, server: .random(), observedAddress: String(repeating: "x", count: 80) + ":1", atMillis: 2))
        let record = try #require(try fixture.store.client(alice))
        #expect(record.wanAddresses.count == ClientRecord.Limits.maximumWANAddresses)
        #expect(record.wanAddresses.first == "203.0.113.7:12")
        #expect(record.limitViolation == nil)
    }

    @Test func theStrictDecoderRefusesOverCapRecordsTheLenientOneReadsThem() throws {
        let record = ClientRecord(id: alice, publicKey: [1], lanAddresses: (0..<20).map { "10.0.0.\($0):1" })
        var writer = ByteWriter()
        record.encode(into: &writer)
        var strict = ByteReader(writer.bytes)
        #expect(throws: DecodingError.tooLarge(field: "client.lan", length: 20, limit: 16)) {
            _ = try ClientRecord.decode(from: &strict)
        }
        var lenient = ByteReader(writer.bytes)
        #expect(try ClientRecord.decode(from: &lenient, enforcingLimits: false) == record)

        var longListen = ByteWriter()
        ClientRecord(id: alice, publicKey: [1], listenAddress: String(repeating: "h", count: 100)).encode(into: &longListen)
        var reader = ByteReader(longListen.bytes)
        #expect(throws: DecodingError.tooLarge(field: "client.listenAddress", length: 100, limit: 64)) {
            _ = try ClientRecord.decode(from: &reader)
        }
    }

    // MARK: Per-sender quota

    @Test func theSenderQuotaRefusesOneSenderWhileAnotherStillGetsIn() throws {
        let fixture = try StoreFixture(limits: MailboxLimits(maximumMessages: 100, maximumBytes: 1 << 20, maximumMessagesPerSender: 2))
        for id in [alice, bob, carol] { try fixture.register(id) }
        let outcomes = try fixture.apply(
            .enqueue(message(alice, 1, to: bob)), .enqueue(message(alice, 2, to: bob)), .enqueue(message(alice, 3, to: bob)),
            .enqueue(message(carol, 1, to: bob))
        )
        #expect(outcomes == [.stored, .stored, .senderQuotaExceeded(limit: 2), .stored])
        // Nothing at all was stored for alice's third: not even a skip.
        #expect(try fixture.store.messages(for: bob).map(\.message.id) == [
            MessageID(sender: alice, sequence: 1), MessageID(sender: alice, sequence: 2), MessageID(sender: carol, sequence: 1),
        ])
        #expect(try fixture.store.skips(for: bob) == 0)
        #expect(try fixture.store.items(from: alice, in: bob) == 2)
        // Her quota in another mailbox is her own.
        #expect(try fixture.apply(.enqueue(message(alice, 1, to: carol))) == [.stored])
        // The skip alice owes for #3 waits, like her messages, until bob takes some mail.
        #expect(try fixture.apply(.enqueue(skip(alice, 3, to: bob))) == [.senderQuotaExceeded(limit: 2)])
        try fixture.apply(.acknowledge(recipient: bob, id: MessageID(sender: alice, sequence: 1)))
        #expect(try fixture.store.items(from: alice, in: bob) == 1)
        #expect(try fixture.apply(.enqueue(skip(alice, 3, to: bob))) == [.stored])
        #expect(try fixture.apply(.enqueue(skip(alice, 3, to: bob))) == [.stored])  // a retry
        let aliceIDs = try fixture.store.messages(for: bob).filter { $0.message.id.sender == alice }
        #expect(aliceIDs.map(\.message.id.sequence) == [2, 3])
        #expect(aliceIDs.map(\.message.isSkip) == [false, true])
        #expect(try fixture.store.items(from: alice, in: bob) == 2)
    }

    @Test func skipsCountAgainstTheSenderQuota() throws {
        let fixture = try StoreFixture(limits: MailboxLimits(maximumMessages: 1, maximumBytes: 1 << 20, maximumMessagesPerSender: 3))
        for id in [alice, bob] { try fixture.register(id) }
        let outcomes = try fixture.apply(
            .enqueue(message(alice, 1, to: bob)), .enqueue(message(alice, 2, to: bob)), .enqueue(message(alice, 3, to: bob)),
            .enqueue(message(alice, 4, to: bob))
        )
        #expect(outcomes == [.stored, .mailboxFull(messages: 1, bytes: 2), .mailboxFull(messages: 1, bytes: 2), .senderQuotaExceeded(limit: 3)])
        #expect(try fixture.store.skips(for: bob) == 2)
        #expect(try fixture.store.items(from: alice, in: bob) == 3)
    }

    @Test func skipsCountAgainstTheMailboxLimits() throws {
        let fixture = try StoreFixture(limits: MailboxLimits(maximumMessages: 3, maximumBytes: 1 << 20))
        for id in [alice, bob, carol] { try fixture.register(id) }
        try fixture.apply(.enqueue(message(alice, 1, to: bob)), .enqueue(message(alice, 2, to: bob)), .enqueue(message(alice, 3, to: bob)))
        #expect(try fixture.apply(.enqueue(message(carol, 1, to: bob))) == [.mailboxFull(messages: 3, bytes: 6)])
        // A real message leaves; the skip still takes a place, so the mailbox is still full.
        try fixture.apply(.acknowledge(recipient: bob, id: MessageID(sender: alice, sequence: 1)))
        #expect(try fixture.apply(.enqueue(message(carol, 2, to: bob))) == [.mailboxFull(messages: 2, bytes: 4)])
        #expect(try fixture.store.skips(for: bob) == 2)
        // Once the recipient passes over the skips, messages get in again.
        try fixture.apply(
            .acknowledge(recipient: bob, id: MessageID(sender: carol, sequence: 1)),
            .acknowledge(recipient: bob, id: MessageID(sender: carol, sequence: 2))
        )
        #expect(try fixture.store.skips(for: bob) == 0)
        #expect(try fixture.apply(.enqueue(message(carol, 3, to: bob))) == [.stored])

        // A skip costs bytes too.
        let bytes = try StoreFixture(limits: MailboxLimits(maximumMessages: 100, maximumBytes: 100))
        for id in [alice, bob] { try bytes.register(id) }
        let sixty = String(repeating: "x", count: 60)
        let outcomes = try bytes.apply(
            .enqueue(message(alice, 1, to: bob, sixty)), .enqueue(message(alice, 2, to: bob, sixty)), .enqueue(message(alice, 3, to: bob, "x"))
        )
        // 60 + 60 > 100: a skip (64 bytes); then 60 + 64 + 1 > 100, though 60 + 1 would fit.
        #expect(outcomes == [.stored, .mailboxFull(messages: 1, bytes: 60), .mailboxFull(messages: 1, bytes: 60)])
    }

    @Test func aSendersSkipRetractsItsOwnStoredMessage() throws {
        let fixture = try StoreFixture()
        for id in [alice, bob] { try fixture.register(id) }
        try fixture.apply(.enqueue(message(alice, 1, to: bob, "late copy")))
        let before = try fixture.store.totalBytes()
        #expect(try fixture.apply(.enqueue(skip(alice, 1, to: bob))) == [.stored])
        #expect(try fixture.store.messages(for: bob).map(\.message.isSkip) == [true])
        #expect(try fixture.store.stats(for: bob).messages == 0)
        #expect(try fixture.store.skips(for: bob) == 1)
        #expect(try fixture.store.items(from: alice, in: bob) == 1)
        #expect(try fixture.store.totalBytes() == before - 9)
        // A later copy of the message does not bring it back.
        #expect(try fixture.apply(.enqueue(message(alice, 1, to: bob, "late copy"))) == [.mailboxFull(messages: 0, bytes: 0)])
    }

    // MARK: Store-wide quota

    @Test func theStoreWideQuotaRefusesWithoutStoringAnything() throws {
        let overhead = MailboxLimits.recordOverhead
        let limit = 3 * (2 + overhead)  // three "hi" messages
        let fixture = try StoreFixture(limits: MailboxLimits(maximumTotalBytes: limit))
        for id in [alice, bob, carol] { try fixture.register(id) }
        let outcomes = try fixture.apply(
            .enqueue(message(alice, 1, to: bob)), .enqueue(message(alice, 1, to: carol)), .enqueue(message(carol, 1, to: bob)),
            .enqueue(message(bob, 1, to: carol)), .enqueue(skip(bob, 2, to: carol))
        )
        #expect(outcomes == [.stored, .stored, .stored, .storageFull(limit: limit), .storageFull(limit: limit)])
        #expect(try fixture.store.totalBytes() == limit)
        #expect(try fixture.store.messages(for: carol).count == 1)
        #expect(try fixture.store.items(from: bob, in: carol) == 0)
        // Space comes back when a recipient takes its mail.
        try fixture.apply(.acknowledge(recipient: bob, id: MessageID(sender: alice, sequence: 1)))
        #expect(try fixture.store.totalBytes() == limit - 2 - overhead)
        #expect(try fixture.apply(.enqueue(message(bob, 1, to: carol))) == [.stored])
        // An operator's purge frees the payloads; the skips it leaves still cost their overhead.
        #expect(try fixture.apply(.purge(recipient: carol)) == [.purged(count: 2)])
        #expect(try fixture.store.totalBytes() == 2 + 3 * overhead)
    }

    /// Found by the delivery simulator: a sender's later messages fill its quota (or anyone's
    /// fill the store) while the recipient waits for an earlier sequence whose message was
    /// refused; the skip the sender owes for it must get in, or nothing moves again.
    @Test func theSkipForTheSequenceTheRecipientWaitsForGetsInOverTheLimits() throws {
        let overhead = MailboxLimits.recordOverhead
        let fixture = try StoreFixture(limits: MailboxLimits(maximumMessagesPerSender: 1, maximumTotalBytes: 2 + overhead))
        for id in [alice, bob] { try fixture.register(id) }
        #expect(try fixture.apply(.enqueue(message(alice, 2, to: bob))) == [.stored])
        // #1 was refused (the quota is full); bob waits for #1: its skip gets in.
        #expect(try fixture.apply(.enqueue(message(alice, 1, to: bob))) == [.senderQuotaExceeded(limit: 1)])
        #expect(try fixture.apply(.enqueue(skip(alice, 1, to: bob))) == [.stored])
        // A skip for a later sequence is still held to the quota and the total.
        #expect(try fixture.apply(.enqueue(skip(alice, 3, to: bob))) == [.senderQuotaExceeded(limit: 1)])
        #expect(try fixture.store.items(from: alice, in: bob) == 2)
        try fixture.apply(.acknowledge(recipient: bob, id: MessageID(sender: alice, sequence: 1)))
        try fixture.apply(.acknowledge(recipient: bob, id: MessageID(sender: alice, sequence: 2)))
        #expect(try fixture.apply(.enqueue(skip(alice, 3, to: bob))) == [.stored])
    }

    // MARK: Snapshots and determinism

    /// A store with every kind of counter in use: messages, skips, per-sender items, the total.
    private func populated(_ limits: MailboxLimits) throws -> StoreFixture {
        let fixture = try StoreFixture(limits: limits)
        for id in [alice, bob, carol] { try fixture.register(id) }
        for sequence in UInt64(1)...6 { try fixture.apply(.enqueue(message(alice, sequence, to: bob, "message \(sequence)"))) }
        try fixture.apply(
            .enqueue(message(carol, 1, to: bob)), .enqueue(message(bob, 1, to: carol)),
            .acknowledge(recipient: bob, id: MessageID(sender: alice, sequence: 1)),
            .delete(recipient: bob, id: MessageID(sender: alice, sequence: 2))
        )
        return fixture
    }

    private func counters(_ store: MailboxStore, _ ids: [NodeID]) throws -> [Int] {
        var result = [try store.totalBytes()]
        for recipient in ids {
            result += [try store.stats(for: recipient).messages, try store.stats(for: recipient).bytes, try store.skips(for: recipient)]
            for sender in ids { result.append(try store.items(from: sender, in: recipient)) }
        }
        return result
    }

    @Test func aRestoredReplicaKeepsTheCountersAndDecidesAlike() throws {
        let limits = MailboxLimits(maximumMessages: 4, maximumBytes: 1 << 20, maximumMessagesPerSender: 5, maximumTotalBytes: 1 << 20)
        let source = try populated(limits)
        let snapshot = try source.store.snapshot()
        let replica = try StoreFixture(limits: limits)
        try replica.register(carol)
        try replica.store.restore(snapshot: snapshot.data, index: snapshot.index, term: snapshot.term)
        let ids = [alice, bob, carol]
        #expect(try counters(replica.store, ids) == counters(source.store, ids))
        #expect(try replica.store.items(from: alice, in: bob) == 4)
        #expect(try replica.store.skips(for: bob) == 3)
        #expect(try replica.store.digest().digest == source.store.digest().digest)
        // The same next entries give the same outcomes on both.
        let next = [message(alice, 7, to: bob), message(alice, 8, to: bob)].enumerated().map { offset, message in
            MailboxStore.Entry(index: snapshot.index + 1 + UInt64(offset), term: 1, command: MailboxCommand.enqueue(message).encoded())
        }
        for store in [source.store, replica.store] {
            #expect(try store.apply(next).map(\.outcome) == [.mailboxFull(messages: 2, bytes: 18), .senderQuotaExceeded(limit: 5)])
        }
        #expect(try replica.store.digest().digest == source.store.digest().digest)
    }

    @Test func aVersion2SnapshotRestoresWithRecountedCounters() throws {
        let limits = MailboxLimits()
        let source = try populated(limits)
        let snapshot = try source.store.snapshot()
        // A version-2 snapshot is the same bytes without the two counter tables at the end:
        // `mbx.senders` (count, then per entry a 32-byte key and an 8-byte value, each
        // length-prefixed) and `mbx.totals` (count, one 5-byte key, one 8-byte value).
        let senderEntries = 3  // alice→bob, carol→bob, bob→carol
        let tail = (8 + senderEntries * (4 + 32 + 4 + 8)) + (8 + 4 + 5 + 4 + 8)
        // (Then, since version 4, the two expiry tables: empty here, a count of 0 each.)
        let expiryTables = 2 * 8
        let version2 = Array("P2PMBX2".utf8) + Array(snapshot.data[7..<(snapshot.data.count - tail - expiryTables)])
        let replica = try StoreFixture(limits: limits)
        try replica.store.restore(snapshot: version2, index: snapshot.index, term: snapshot.term)
        let ids = [alice, bob, carol]
        #expect(try counters(replica.store, ids) == counters(source.store, ids))
        #expect(try replica.store.digest().digest == source.store.digest().digest)
    }

    @Test func newOutcomesRoundTrip() throws {
        for outcome: MailboxOutcome in [.senderQuotaExceeded(limit: 10_000), .storageFull(limit: 8 << 30), .fieldOverLimit(field: "client.lan", limit: 16), .serverRetired] {
            var writer = ByteWriter()
            outcome.encode(into: &writer)
            var reader = ByteReader(writer.bytes)
            #expect(try MailboxOutcome.decode(from: &reader) == outcome)
        }
    }
}
