import Foundation
import LMDB
import MessageModel
import Testing
@testable import Mailbox
@testable import P2PCore

/// A mailbox store in a fresh temporary LMDB environment, with a log-index counter.
final class StoreFixture {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("p2pcore-mbx-\(UUID().uuidString)").path
    let environment: Environment
    let store: MailboxStore
    private(set) var nextIndex: UInt64 = 1

    init(limits: MailboxLimits = .init()) throws {
        var configuration = Environment.Configuration()
        configuration.syncOnCommit = false
        environment = try Environment(path: path, configuration: configuration)
        store = try MailboxStore(environment: environment, limits: limits)
    }

    deinit {
        environment.close()
        try? FileManager.default.removeItem(atPath: path)
    }

    @discardableResult
    func apply(_ commands: MailboxCommand...) throws -> [MailboxOutcome] {
        let entries = commands.map { command in
            defer { nextIndex += 1 }
            return MailboxStore.Entry(index: nextIndex, term: 1, command: command.encoded())
        }
        return try store.apply(entries).map(\.outcome)
    }

    func register(_ id: NodeID) throws {
        try apply(.register(ClientRecord(id: id, publicKey: Array(id.bytes.reversed()))))
    }
}

func message(_ sender: NodeID, _ sequence: UInt64, to recipient: NodeID, _ text: String = "hi") -> MailMessage {
    MailMessage(id: MessageID(sender: sender, sequence: sequence), recipient: recipient, payload: Array(text.utf8), enqueuedAtMillis: 1000 + sequence)
}

@Suite struct MailboxStoreTests {
    let alice = NodeID.random()
    let bob = NodeID.random()
    let carol = NodeID.random()

    @Test func mailToAnUnknownRecipientIsRefused() throws {
        let fixture = try StoreFixture()
        try fixture.register(alice)
        #expect(try fixture.apply(.enqueue(message(alice, 1, to: bob))) == [.unknownRecipient])
        #expect(try fixture.store.stats(for: bob) == .empty)
    }

    @Test func mailboxIsFIFOAcrossSendersAndDeduplicatesRetries() throws {
        let fixture = try StoreFixture()
        for id in [alice, bob, carol] { try fixture.register(id) }
        try fixture.apply(
            .enqueue(message(alice, 1, to: bob, "a1")),
            .enqueue(message(carol, 1, to: bob, "c1")),
            .enqueue(message(alice, 2, to: bob, "a2")),
            .enqueue(message(alice, 1, to: bob, "a1"))  // a retry of the same id
        )
        let texts = try fixture.store.messages(for: bob).map { String(decoding: $0.message.payload, as: UTF8.self) }
        #expect(texts == ["a1", "c1", "a2"])
        #expect(try fixture.store.stats(for: bob).messages == 3)
        #expect(try fixture.store.stats(for: bob).bytes == 6)
        #expect(try fixture.store.client(alice)?.relayedMessages == 2)
    }

    @Test func aBatchCountsItsSendersRelayedMailAsOneCommandAtATimeWould() throws {
        let dave = NodeID.random()
        let batched = try StoreFixture(), single = try StoreFixture()
        for fixture in [batched, single] {
            for id in [alice, bob] { try fixture.register(id) }
            try fixture.apply(.register(ClientRecord(id: carol, publicKey: Array(carol.bytes.reversed()), relayedMessages: .max - 1, relayedBytes: .max - 3)))
        }
        // Enqueues of several senders, a refused one, a register and an attach of a sender in
        // between (they read and write its record), and counters that saturate.
        let commands: [MailboxCommand] = [
            .enqueue(message(alice, 1, to: bob, "a1")),
            .enqueue(message(carol, 1, to: bob, "c1")),
            .enqueue(message(alice, 2, to: bob, "a2")),
            .enqueue(message(alice, 9, to: carol, "unknown")),
            .register(ClientRecord(id: alice, publicKey: Array(alice.bytes.reversed()), lanAddresses: ["10.0.0.1:1"])),
            .enqueue(message(alice, 3, to: bob, "a3")),
            .attach(client: alice, server: bob, observedAddress: "1.2.3.4:5", atMillis: 7),
            .enqueue(message(carol, 2, to: bob, "c2")),
            .enqueue(message(bob, 1, to: alice, "b1")),
            // Mail from a sender with no record yet counts for nobody, even once it registers.
            .enqueue(message(dave, 1, to: bob, "d1")),
            .register(ClientRecord(id: dave, publicKey: Array(dave.bytes.reversed()))),
            .enqueue(message(dave, 2, to: bob, "d2")),
        ]
        let outcomes = try batched.apply(.batch(commands))
        var singly: [MailboxOutcome] = []
        for command in commands { singly += try single.apply(command) }
        #expect(outcomes == [.batch(singly)])
        for id in [alice, bob, carol, dave] {
            #expect(try batched.store.client(id) == single.store.client(id))
        }
        #expect(try batched.store.client(dave)?.relayedMessages == 1)
        #expect(try batched.store.client(alice)?.relayedMessages == 4)
        #expect(try batched.store.client(alice)?.lanAddresses == ["10.0.0.1:1"])
        #expect(try batched.store.client(carol)?.relayedMessages == .max)
        #expect(try batched.store.client(carol)?.relayedBytes == .max)
    }

    @Test func acknowledgedMailIsRemovedAndNeverStoredAgain() throws {
        let fixture = try StoreFixture()
        for id in [alice, bob] { try fixture.register(id) }
        try fixture.apply(.enqueue(message(alice, 1, to: bob)), .enqueue(message(alice, 2, to: bob)))
        #expect(try fixture.apply(.acknowledge(recipient: bob, id: MessageID(sender: alice, sequence: 1))) == [.done])
        #expect(try fixture.store.messages(for: bob).map(\.message.id.sequence) == [2])
        // A late retry of an acknowledged message is reported as delivered, not stored again.
        #expect(try fixture.apply(.enqueue(message(alice, 1, to: bob))) == [.alreadyDelivered])
        #expect(try fixture.store.deliveredThrough(recipient: bob, sender: alice) == 1)
        #expect(try fixture.store.stats(for: bob).messages == 1)
    }

    @Test func aFullMailboxRefusesWithAClearOutcome() throws {
        let fixture = try StoreFixture(limits: MailboxLimits(maximumMessages: 2, maximumBytes: 1 << 20))
        for id in [alice, bob] { try fixture.register(id) }
        let outcomes = try fixture.apply(
            .enqueue(message(alice, 1, to: bob)), .enqueue(message(alice, 2, to: bob)), .enqueue(message(alice, 3, to: bob))
        )
        #expect(outcomes == [.stored, .stored, .mailboxFull(messages: 2, bytes: 4)])
        // The refused id leaves a skip in the FIFO so the recipient's sequence has no gap,
        // and a retry of the refused id gets the same answer.
        let queued = try fixture.store.messages(for: bob)
        #expect(queued.map(\.message.isSkip) == [false, false, true])
        #expect(queued.last?.message.payload.isEmpty == true)
        #expect(try fixture.apply(.enqueue(message(alice, 3, to: bob))) == [.mailboxFull(messages: 2, bytes: 4)])
        // Acknowledging the skip removes it without touching the counters of real messages.
        try fixture.apply(.acknowledge(recipient: bob, id: MessageID(sender: alice, sequence: 3)))
        #expect(try fixture.store.stats(for: bob).messages == 2)
        #expect(try fixture.store.messages(for: bob).count == 2)

        let bytesLimited = try StoreFixture(limits: MailboxLimits(maximumMessages: 100, maximumBytes: 5))
        for id in [alice, bob] { try bytesLimited.register(id) }
        #expect(try bytesLimited.apply(.enqueue(message(alice, 1, to: bob, "123456"))) == [.mailboxFull(messages: 0, bytes: 0)])
    }

    @Test func reapplyingEntriesAtOrBelowTheAppliedIndexIsANoOp() throws {
        let fixture = try StoreFixture()
        for id in [alice, bob] { try fixture.register(id) }
        let entry = MailboxStore.Entry(index: 10, term: 2, command: MailboxCommand.enqueue(message(alice, 1, to: bob)).encoded())
        try fixture.store.apply([entry])
        let ack = MailboxStore.Entry(index: 11, term: 2, command: MailboxCommand.acknowledge(recipient: bob, id: MessageID(sender: alice, sequence: 1)).encoded())
        try fixture.store.apply([ack])
        // A crash-restart replays both: nothing may come back.
        #expect(try fixture.store.apply([entry, ack]).isEmpty)
        #expect(try fixture.store.stats(for: bob) == .empty)
        #expect(try fixture.store.applied() == (11, 2))
    }

    @Test func nonCommandEntriesAndGarbageOnlyAdvanceTheAppliedIndex() throws {
        let fixture = try StoreFixture()
        let outcomes = try fixture.store.apply([
            MailboxStore.Entry(index: 1, term: 1, command: nil),
            MailboxStore.Entry(index: 2, term: 1, command: [1, 99, 0]),
        ])
        #expect(outcomes.map(\.outcome) == [.invalidCommand])
        #expect(try fixture.store.applied().index == 2)
    }

    @Test func anIdStaysBoundToItsFirstKey() throws {
        let fixture = try StoreFixture()
        try fixture.register(alice)
        #expect(try fixture.apply(.register(ClientRecord(id: alice, publicKey: [1, 2, 3]))) == [.keyMismatch])
    }

    @Test func registerAndAttachInOneEntryBindAndAttachANewClient() throws {
        // The gateway's one proposal per link for a client whose id is derived from its key.
        let fixture = try StoreFixture()
        let server = NodeID.random()
        let record = ClientRecord(id: alice, publicKey: [7, 7, 7], listenPort: 4000)
        let entry = MailboxCommand.batch([.register(record), .attach(client: alice, server: server, observedAddress: "203.0.113.9:1", atMillis: 9)])
        #expect(try fixture.apply(entry) == [.batch([.done, .done])])
        #expect(try fixture.store.client(alice)?.attachedServers == [server])
        #expect(try fixture.store.client(alice)?.publicKey == [7, 7, 7])
        // Again, as after a reconnect: still one entry, nothing changes but the time.
        #expect(try fixture.apply(entry) == [.batch([.done, .done])])
        #expect(try fixture.store.client(alice)?.attachedServers == [server])
    }

    @Test func attachDetachAndForgetServerTrackOnlineState() throws {
        let fixture = try StoreFixture()
        let server1 = NodeID.random()
        let server2 = NodeID.random()
        try fixture.register(alice)
        try fixture.apply(
            .attach(client: alice, server: server1, observedAddress: "203.0.113.7:40000", atMillis: 5),
            .attach(client: alice, server: server2, observedAddress: nil, atMillis: 6)
        )
        #expect(try fixture.store.client(alice)?.attachedServers == [server1, server2].sorted())
        #expect(try fixture.store.client(alice)?.wanAddresses == ["203.0.113.7:40000"])
        try fixture.apply(.detach(client: alice, server: server1, atMillis: 7), .forgetServer(server2))
        #expect(try fixture.store.client(alice)?.isOnline == false)
        #expect(try fixture.store.client(alice)?.lastSeenMillis == 7)
    }

    @Test func aRetiredServersOwnRegistrationIsRefusedUntilAnOperatorAdmitsIt() throws {
        let fixture = try StoreFixture()
        let (kept, removed) = (NodeID.random(), NodeID.random())
        try fixture.register(alice)
        try fixture.apply(
            .registerServer(id: kept, address: "10.0.0.1:7400"), .registerServer(id: removed, address: "10.0.0.2:7400"),
            .attach(client: alice, server: removed, observedAddress: nil, atMillis: 5)
        )
        #expect(try fixture.apply(.retireServer(removed)) == [.done])
        #expect(try fixture.store.servers() == [kept: "10.0.0.1:7400"])
        #expect(try fixture.store.client(alice)?.attachedServers == [])
        // Its own registration (one in flight at the removal, or after a restart) stays out.
        #expect(try fixture.apply(.registerServer(id: removed, address: "10.0.0.2:7400")) == [.serverRetired])
        #expect(try fixture.store.servers() == [kept: "10.0.0.1:7400"])
        // An operator adds it back; from then on it registers as any server.
        #expect(try fixture.apply(.admitServer(id: removed, address: "10.0.0.2:7401")) == [.done])
        #expect(try fixture.store.servers() == [kept: "10.0.0.1:7400", removed: "10.0.0.2:7401"])
        #expect(try fixture.apply(.registerServer(id: removed, address: "10.0.0.2:7402")) == [.done])
        #expect(try fixture.store.servers()[removed] == "10.0.0.2:7402")
        // Forgetting (the command of earlier logs) does not retire.
        try fixture.apply(.forgetServer(kept))
        #expect(try fixture.apply(.registerServer(id: kept, address: "10.0.0.1:7400")) == [.done])
    }

    @Test func purgeEmptiesOnlyThatMailbox() throws {
        let fixture = try StoreFixture()
        for id in [alice, bob, carol] { try fixture.register(id) }
        try fixture.apply(.enqueue(message(alice, 1, to: bob)), .enqueue(message(alice, 2, to: bob)), .enqueue(message(alice, 1, to: carol)))
        #expect(try fixture.apply(.purge(recipient: bob)) == [.purged(count: 2)])
        #expect(try fixture.store.stats(for: bob) == .empty)
        #expect(try fixture.store.stats(for: carol).messages == 1)
        #expect(try fixture.apply(.delete(recipient: carol, id: MessageID(sender: alice, sequence: 1))) == [.done])
        #expect(try fixture.store.stats(for: carol) == .empty)
        #expect(try fixture.apply(.delete(recipient: carol, id: MessageID(sender: alice, sequence: 1))) == [.notFound])
    }

    @Test func removedMessagesLeaveSkipsSoTheSendersSequenceHasNoGap() throws {
        let fixture = try StoreFixture()
        for id in [alice, bob] { try fixture.register(id) }
        try fixture.apply(.enqueue(message(alice, 1, to: bob)), .enqueue(message(alice, 2, to: bob)), .enqueue(message(alice, 3, to: bob)))
        try fixture.apply(.delete(recipient: bob, id: MessageID(sender: alice, sequence: 2)))
        #expect(try fixture.store.messages(for: bob).map { $0.message.isSkip } == [false, true, false])
        #expect(try fixture.apply(.purge(recipient: bob)) == [.purged(count: 2)])
        #expect(try fixture.store.messages(for: bob).map { $0.message.isSkip } == [true, true, true])
        // The recipient acknowledges the skips; nothing counts as delivered to it.
        #expect(try fixture.apply(.acknowledge(recipient: bob, id: MessageID(sender: alice, sequence: 1))) == [.skipAcknowledged])
        try fixture.apply(.enqueue(message(alice, 4, to: bob)))
        #expect(try fixture.store.stats(for: bob).messages == 1)
    }

    @Test func snapshotRestoresAnIdenticalReplica() throws {
        let source = try StoreFixture()
        for id in [alice, bob, carol] { try source.register(id) }
        for sequence in UInt64(1)...50 {
            try source.apply(.enqueue(message(alice, sequence, to: bob, "message \(sequence)")))
        }
        try source.apply(.acknowledge(recipient: bob, id: MessageID(sender: alice, sequence: 1)))
        let snapshot = try source.store.snapshot()

        let replica = try StoreFixture()
        try replica.register(carol)  // stale state that the restore must replace
        try replica.store.restore(snapshot: snapshot.data, index: snapshot.index, term: snapshot.term)
        #expect(try replica.store.digest().digest == source.store.digest().digest)
        #expect(try replica.store.applied().index == snapshot.index)
        #expect(try replica.store.messages(for: bob, limit: 1000).count == 49)
    }

    @Test func aCorruptSnapshotIsRejectedAndLeavesTheStateAlone() throws {
        let fixture = try StoreFixture()
        try fixture.register(alice)
        let before = try fixture.store.digest()
        var snapshot = try fixture.store.snapshot().data
        snapshot.removeLast(3)
        #expect(throws: DecodingError.self) { try fixture.store.restore(snapshot: snapshot, index: 99, term: 9) }
        #expect(try fixture.store.digest().digest == before.digest)
        #expect(try fixture.store.applied().index == before.index)
    }
}

@Suite struct MailboxCommandCodecTests {
    @Test func everyCommandRoundTrips() throws {
        let a = NodeID.random()
        let b = NodeID.random()
        let commands: [MailboxCommand] = [
            .register(ClientRecord(id: a, publicKey: [1, 2], lanAddresses: ["10.0.0.2:7000"], listenAddress: "0.0.0.0", listenPort: 7000)),
            .attach(client: a, server: b, observedAddress: "198.51.100.1:5", atMillis: 9),
            .attach(client: a, server: b, observedAddress: nil, atMillis: 9),
            .detach(client: a, server: b, atMillis: 10),
            .enqueue(message(a, 3, to: b, "payload")),
            .acknowledge(recipient: b, id: MessageID(sender: a, sequence: 3)),
            .purge(recipient: b),
            .delete(recipient: b, id: MessageID(sender: a, sequence: 4)),
            .forgetServer(b),
            .registerServer(id: b, address: "10.0.0.2:7400"),
            .retireServer(b),
            .admitServer(id: b, address: "10.0.0.2:7401"),
        ]
        for command in commands {
            #expect(try MailboxCommand(decoding: command.encoded()) == command)
        }
    }

    @Test func truncatedAndRandomBytesThrowInsteadOfTrapping() {
        let encoded = MailboxCommand.enqueue(message(.random(), 1, to: .random(), "some payload")).encoded()
        for length in 0..<encoded.count {
            #expect(throws: DecodingError.self) { try MailboxCommand(decoding: Array(encoded.prefix(length))) }
        }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let bytes = (0..<Int.random(in: 0...80, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            _ = try? MailboxCommand(decoding: bytes)
        }
    }
}
