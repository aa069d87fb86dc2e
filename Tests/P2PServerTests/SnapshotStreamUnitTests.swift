import Foundation
import LMDB
import Logging
import MessageModel
import P2PCore
import Raft
import RaftStorage
import Synchronization
import Testing
import TestSupport
@testable import Mailbox
@testable import P2PServer

/// What each side of a snapshot stream sent, in order.
final class TransferLog: Sendable {
    private let sent = Mutex<[(to: NodeID, transfer: SnapshotTransfer)]>([])

    func record(_ transfer: SnapshotTransfer, to peer: NodeID) { sent.withLock { $0.append((peer, transfer)) } }
    var all: [(to: NodeID, transfer: SnapshotTransfer)] { sent.withLock { $0 } }
    var aborts: [String] {
        all.compactMap { if case .abort(_, let reason) = $0.transfer { reason } else { nil } }
    }
}

/// The two ends of a snapshot stream on their own: a stalled stream, and chunks that break the rules.
@Suite struct SnapshotStreamUnitTests {
    let leader = NodeID.random()
    let follower = NodeID.random()

    private func store(_ directory: borrowing TemporaryDirectory, messages: Int) throws -> MailboxStore {
        var configuration = Environment.Configuration()
        configuration.syncOnCommit = false
        let store = try MailboxStore(environment: try Environment(path: directory.path, configuration: configuration))
        let recipient = NodeID.random()
        var commands: [MailboxCommand] = [.register(ClientRecord(id: recipient, publicKey: [1]))]
        for sequence in 0..<messages {
            commands.append(.enqueue(MailMessage(id: MessageID(sender: leader, sequence: UInt64(sequence + 1)), recipient: recipient, payload: [1, 2, 3], enqueuedAtMillis: 0)))
        }
        try store.apply([MailboxStore.Entry(index: 1, term: 1, command: MailboxCommand.batch(commands).encoded())])
        return store
    }

    @Test func aStreamWithoutAcknowledgementsEndsAndReleasesItsSnapshot() async throws {
        let directory = TemporaryDirectory("stall")
        let store = try store(directory, messages: 200)
        let sent = TransferLog()
        var settings = SnapshotSender.Settings()
        settings.chunkBytes = 256
        settings.stallTimeout = .milliseconds(50)
        let sender = SnapshotSender(settings: settings, logger: Logger(label: "test")) { peer, transfer in sent.record(transfer, to: peer) }
        let reader = try MailboxSnapshotReader(store)
        let metadata = SnapshotMetadata(index: reader.index, term: reader.term, membership: Membership(voters: [leader]))
        sender.start(to: follower, term: 1, metadata: metadata, reader: reader)
        // The window fills (begin and four chunks) and nothing more goes out without acknowledgements.
        #expect(try await eventually { sent.all.count == 5 })
        #expect(sender.isStreaming(to: follower))
        try await Task.sleep(for: .milliseconds(100))
        #expect(sent.all.count == 5)
        sender.tick()
        #expect(!sender.isStreaming(to: follower))
        #expect(sent.aborts.count == 1)
        #expect(throws: LMDBError.self) { try reader.nextChunk(maxBytes: 256) }
    }

    @Test func chunksOutOfSequenceOrMalformedEndTheStreamAndTellTheLeader() async throws {
        let directory = TemporaryDirectory("receiver")
        let store = try store(directory, messages: 0)
        let sent = TransferLog()
        let receiver = SnapshotReceiver(store: store, storage: StorageQueue(label: "test"), logger: Logger(label: "test")) { peer, transfer in
            sent.record(transfer, to: peer)
        }
        let installs = Mutex(0)
        let install: SnapshotReceiver.Install = { _, _, _ in
            installs.withLock { $0 += 1 }
            return true
        }
        let metadata = SnapshotMetadata(index: 9, term: 1, membership: Membership(voters: [leader]))

        // A chunk out of sequence.
        receiver.handle(.begin(stream: 1, term: 1, metadata: metadata), from: leader, install: install)
        #expect(try await eventually { sent.all.count == 1 })  // the begin acknowledged
        receiver.handle(.chunk(stream: 1, sequence: 2, records: [], total: nil), from: leader, install: install)
        #expect(sent.aborts.count == 1)
        // The stream is gone: later chunks are refused too.
        receiver.handle(.chunk(stream: 1, sequence: 1, records: [], total: nil), from: leader, install: install)
        #expect(sent.aborts.count == 2)

        // Records that do not decode.
        receiver.handle(.begin(stream: 2, term: 1, metadata: metadata), from: leader, install: install)
        receiver.handle(.chunk(stream: 2, sequence: 1, records: [0, 0, 0, 0, 9], total: nil), from: leader, install: install)
        #expect(try await eventually { sent.aborts.count == 3 })
        #expect(sent.aborts.last?.contains("refused") == true)

        // A total that does not match what was staged.
        receiver.handle(.begin(stream: 3, term: 1, metadata: metadata), from: leader, install: install)
        receiver.handle(.chunk(stream: 3, sequence: 1, records: [], total: 5), from: leader, install: install)
        #expect(try await eventually { sent.aborts.count == 4 })

        // Chunks of a stream from another server than its leader are refused.
        receiver.handle(.begin(stream: 4, term: 1, metadata: metadata), from: leader, install: install)
        receiver.handle(.chunk(stream: 4, sequence: 1, records: [], total: 0), from: follower, install: install)
        #expect(sent.all.last?.to == follower)
        #expect(sent.aborts.count == 5)
        // Its leader completes it: installed, and the last chunk acknowledged after.
        receiver.handle(.chunk(stream: 4, sequence: 1, records: [], total: 0), from: leader, install: install)
        #expect(try await eventually { sent.all.last.map { $0.transfer == .ack(stream: 4, sequence: 1) } ?? false })
        #expect(installs.withLock { $0 } == 1)
    }

    /// A data directory of an older version holds a snapshot with data, which the mailboxes may
    /// not have loaded yet (a crash between persisting and applying it): the replica loads it.
    @Test func aSnapshotWithDataFromAnOlderVersionIsStillRestoredAtStart() async throws {
        let source = TemporaryDirectory("legacy-source")
        let sourceStore = try store(source, messages: 30)
        let old = try sourceStore.snapshot()
        let directory = TemporaryDirectory("legacy")
        var configuration = Environment.Configuration()
        configuration.syncOnCommit = false
        let environment = try Environment(path: directory.path, configuration: configuration)
        let membership = Membership(voters: [leader])
        let metadata = SnapshotMetadata(index: 5, term: 1, membership: membership)
        try RaftLogStore(environment: environment).persist(RaftLogStore.Batch(
            hardState: HardState(term: 1, vote: leader, commit: 5).encoded(),
            snapshot: .init(index: 5, term: 1, metadata: metadata.encoded(), data: old.data)
        ))
        let replica = try ReplicatedMailboxes(
            configuration: RaftConfiguration(id: leader), environment: environment, bootstrapVoters: nil,
            send: { _ in }, sendTransfer: { _, _ in }
        )
        #expect(try await replica.mailboxes.digest().digest == sourceStore.digest().digest)
        #expect(try await replica.mailboxes.applied().index == 5)
        #expect(await replica.snapshotIndex == 5)
    }
}
