import Crypto
import Foundation
import LMDB
import MessageModel
import Testing
@testable import Mailbox
@testable import P2PCore

/// Streaming a store's state in chunks (``MailboxSnapshotReader``) into another store's staging
/// tables, and installing it.
@Suite struct MailboxStreamingTests {
    let alice = NodeID.random()
    let bob = NodeID.random()
    let carol = NodeID.random()

    /// A store with a few hundred messages, acknowledgements and expiries: every table in use.
    private func populatedSource() throws -> StoreFixture {
        let source = try StoreFixture()
        for id in [alice, bob, carol] { try source.register(id) }
        try source.apply(.registerServer(id: carol, address: "127.0.0.1:1"))
        for sequence in UInt64(1)...300 {
            let mail = MailMessage(
                id: MessageID(sender: alice, sequence: sequence), recipient: bob, payload: Array(repeating: 120, count: Int(sequence % 40)),
                enqueuedAtMillis: 1000 + sequence, expiresAtMillis: sequence % 7 == 0 ? 5_000 + sequence : nil
            )
            try source.apply(.enqueue(mail))
        }
        try source.apply(.acknowledge(recipient: bob, id: MessageID(sender: alice, sequence: 1)))
        try source.apply(.expire(recipient: bob, id: MessageID(sender: alice, sequence: 7), atMillis: 10_000))
        return source
    }

    /// Streams `reader` into `target`'s staging tables, `maxBytes` per chunk; returns the chunk count.
    @discardableResult
    private func stream(_ reader: MailboxSnapshotReader, into target: MailboxStore, maxBytes: Int) throws -> Int {
        try target.clearStaging()
        var position = MailboxStagingPosition()
        var chunks = 0
        while true {
            let chunk = try reader.nextChunk(maxBytes: maxBytes)
            try target.stage(chunk.records, position: &position)
            chunks += 1
            if chunk.isLast { break }
        }
        #expect(position.records == reader.recordsRead)
        return chunks
    }

    @Test func theStreamingDigestIsTheHashOfTheWholeSnapshot() throws {
        let source = try populatedSource()
        let whole = try source.store.snapshot()
        let hex = SHA256.hash(data: whole.data).map { String(format: "%02x", $0) }.joined()
        #expect(try source.store.digest().digest == hex)
    }

    @Test func aStateStreamedInSmallChunksInstallsAsAnIdenticalReplica() throws {
        let source = try populatedSource()
        let before = try source.store.digest()
        let reader = try MailboxSnapshotReader(source.store)
        defer { reader.end() }
        #expect(reader.index == before.index)
        // Writes after the reader opened do not reach the stream.
        try source.apply(.enqueue(message(carol, 1, to: alice)))

        let target = try StoreFixture()
        try target.register(carol)  // stale state the install replaces
        let stale = try target.store.digest()
        let chunks = try stream(reader, into: target.store, maxBytes: 2048)
        #expect(chunks > 10)
        // Staged, not live: readers still see the old state.
        #expect(try target.store.digest().digest == stale.digest)
        #expect(try target.store.client(alice) == nil)

        try target.environment.write { txn in try target.store.installStaged(index: reader.index, term: reader.term, in: txn) }
        #expect(try target.store.digest().digest == before.digest)
        #expect(try target.store.applied().index == before.index)
        #expect(try target.store.client(alice) != nil)
        try target.store.clearStaging()
        #expect(try target.store.digest().digest == before.digest)

        // Both apply the same next entry (the one the source applied after the reader opened).
        let next = MailboxStore.Entry(index: before.index + 1, term: 1, command: MailboxCommand.enqueue(message(carol, 1, to: alice)).encoded())
        try target.store.apply([next])
        #expect(try target.store.digest().digest == source.store.digest().digest)
        #expect(try target.store.stats(for: alice).messages == 1)
    }

    @Test func anInterruptedStreamLeavesTheLiveStateAloneAndAFreshStreamInstalls() throws {
        let source = try populatedSource()
        let target = try StoreFixture()
        try target.register(carol)
        let stale = try target.store.digest()

        let abandoned = try MailboxSnapshotReader(source.store)
        try target.store.clearStaging()
        var position = MailboxStagingPosition()
        for _ in 0..<3 { try target.store.stage(try abandoned.nextChunk(maxBytes: 1024).records, position: &position) }
        abandoned.end()
        #expect(try target.store.digest().digest == stale.digest)

        let reader = try MailboxSnapshotReader(source.store)
        defer { reader.end() }
        try stream(reader, into: target.store, maxBytes: 4096)
        try target.environment.write { txn in try target.store.installStaged(index: reader.index, term: reader.term, in: txn) }
        #expect(try target.store.digest().digest == source.store.digest().digest)

        // And back again: a second install flips to the other set.
        let again = try MailboxSnapshotReader(source.store)
        defer { again.end() }
        try stream(again, into: target.store, maxBytes: 1 << 20)
        try target.environment.write { txn in try target.store.installStaged(index: again.index, term: again.term, in: txn) }
        #expect(try target.store.digest().digest == source.store.digest().digest)
    }

    @Test func malformedAndOutOfOrderChunksAreRefusedWithoutWritingAnything() throws {
        let source = try populatedSource()
        let reader = try MailboxSnapshotReader(source.store)
        defer { reader.end() }
        let first = try reader.nextChunk(maxBytes: 1024).records
        let second = try reader.nextChunk(maxBytes: 1024).records
        let target = try StoreFixture()
        try target.store.clearStaging()
        var position = MailboxStagingPosition()

        // Out of order: the second chunk before the first is fine alone, then the first is not.
        try target.store.stage(second, position: &position)
        let afterSecond = position
        #expect(throws: MailboxStagingError.self) { try target.store.stage(first, position: &position) }
        #expect(position == afterSecond)

        var writer = ByteWriter()
        writer.write(UInt8(200))  // no such table
        writer.write(lengthPrefixed: [1])
        writer.write(lengthPrefixed: [2])
        #expect(throws: MailboxStagingError.self) { try target.store.stage(writer.bytes, position: &position) }
        #expect(throws: MailboxStagingError.self) { try target.store.stage(Array(first.dropLast()), position: &position) }
        var emptyKey = ByteWriter()
        emptyKey.write(UInt8(9))
        emptyKey.write(lengthPrefixed: [UInt8]())
        emptyKey.write(lengthPrefixed: [2])
        #expect(throws: MailboxStagingError.self) { try target.store.stage(emptyKey.bytes, position: &position) }
        var hugeLength = ByteWriter()
        hugeLength.write(UInt8(0))
        hugeLength.write(UInt32.max)
        #expect(throws: MailboxStagingError.self) { try target.store.stage(hugeLength.bytes, position: &position) }
        #expect(position == afterSecond)
    }
}
