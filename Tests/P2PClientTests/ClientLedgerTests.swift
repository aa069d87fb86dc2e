import Delivery
import Foundation
import LMDB
import P2PCore
import Testing
import TestSupport
@testable import P2PClient

@Suite struct ClientLedgerTests {
    let me = NodeID.random()
    let bob = NodeID.random()
    let carol = NodeID.random()

    private func withLedger(_ body: (String, ClientLedger) throws -> Void) throws {
        let scratch = TemporaryDirectory("ledger")
        let path = scratch.path
        let environment = try Environment(path: path)
        try body(path, try ClientLedger(environment: environment, me: me))
        environment.close()
    }

    @Test func sequencesArePerRecipientAndSurviveRestart() throws {
        try withLedger { path, ledger in
            let first = try ledger.prepare(to: bob, payloads: [[1], [2]])
            let other = try ledger.prepare(to: carol, payloads: [[3]])
            #expect(first.map(\.id.sequence) == [1, 2])
            #expect(other.map(\.id.sequence) == [1])
            try ledger.resolve([(bob, 1)])

            let reopened = try ClientLedger(environment: try Environment(path: path), me: me)
            #expect(try reopened.prepare(to: bob, payloads: [[4]]).map(\.id.sequence) == [3])
            let pending = try reopened.pending()
            #expect(pending.filter { $0.recipient == bob }.map(\.id.sequence) == [2, 3])
            #expect(pending.filter { $0.recipient == carol }.map(\.payload) == [[3]])
            #expect(pending.allSatisfy { $0.id.sender == me })
        }
    }

    @Test func deliveryFollowsTheSendersSequenceExactly() throws {
        try withLedger { _, ledger in
            try ledger.markDelivered(MessageID(sender: bob, sequence: 1))
            #expect(throws: ClientLedger.LedgerError.outOfOrder(sender: bob, expected: 2, got: 3)) {
                try ledger.markDelivered(MessageID(sender: bob, sequence: 3))
            }
            #expect(throws: ClientLedger.LedgerError.self) {
                try ledger.markDelivered(MessageID(sender: bob, sequence: 1))
            }
            try ledger.markDelivered(MessageID(sender: bob, sequence: 2))
            #expect(try ledger.deliveredThrough(bob) == 2)
            #expect(try ledger.deliveredThrough(carol) == 0)
        }
    }

    /// Stored numbers at the end of their range (a damaged file) give typed errors, not traps.
    @Test func sequencesAtTheEndOfTheirRangeAreRefusedWithoutATrap() throws {
        let scratch = TemporaryDirectory("ledger")
        let environment = try Environment(path: scratch.path)
        defer { environment.close() }
        let ledger = try ClientLedger(environment: environment, me: me)
        let (sequences, delivered) = (try environment.openDatabase("client.sequences"), try environment.openDatabase("client.delivered"))
        try environment.write { txn in
            try txn.put(sequences, bob.bytes, UInt64.max.bigEndianBytes)
            try txn.put(delivered, carol.bytes, UInt64.max.bigEndianBytes)
        }
        do {
            #expect(throws: ClientLedger.LedgerError.sequencesExhausted(recipient: bob)) { try ledger.prepare(to: bob, payloads: [[1]]) }
            #expect(throws: ClientLedger.LedgerError.outOfOrder(sender: carol, expected: .max, got: 1)) {
                try ledger.markDelivered(MessageID(sender: carol, sequence: 1))
            }
        }
    }

    // MARK: - The journal

    private func journaledLedger(_ directory: String) throws -> (Environment, ClientLedger) {
        let environment = try Environment(path: directory + "/lmdb")
        return (environment, try ClientLedger(environment: environment, me: me, journalPath: directory + "/journal"))
    }

    private func someBatches() -> [LedgerBatch] {
        [
            LedgerBatch(number: 1, operations: [.prepare(recipient: bob, payload: [1]), .prepare(recipient: bob, payload: [2], expiresAt: 99)]),
            LedgerBatch(number: 2, operations: [.markDelivered(MessageID(sender: carol, sequence: 1)), .prepare(recipient: carol, payload: [3])]),
        ]
    }

    @Test func aJournaledCommitIsDurableBeforeLMDBsAndReplayedIntoAnLMDBThatLostIt() throws {
        let first = TemporaryDirectory("ledger-journal")
        let (environment, ledger) = try journaledLedger(first.path)
        var early: [[MessageID]]?
        let assigned = try ledger.commit(someBatches()) { early = $0 }
        #expect(early == assigned)
        #expect(assigned.map { $0.map(\.sequence) } == [[1, 2], [1]])
        _ = try ledger.commit([LedgerBatch(number: 3, operations: [.resolve(OutboxKey(recipient: bob, id: MessageID(sender: me, sequence: 1)))])])
        let contents = try ledger.contents()
        let journalBytes = try #require(FileManager.default.contents(atPath: first.path + "/journal"))
        #expect(!journalBytes.isEmpty)

        // A machine crash that undid every LMDB commit: an empty LMDB beside the journal.
        let second = TemporaryDirectory("ledger-journal")
        #expect(FileManager.default.createFile(atPath: second.path + "/journal", contents: journalBytes))
        let (replayedEnvironment, replayed) = try journaledLedger(second.path)
        #expect(try replayed.contents() == contents)
        #expect(FileManager.default.contents(atPath: second.path + "/journal")?.isEmpty == true)
        #expect(try replayed.prepare(to: bob, payloads: [[4]]).map(\.id.sequence) == [3])
        replayedEnvironment.close()
        environment.close()
    }

    @Test func reopeningSkipsJournalRecordsLMDBAlreadyHolds() throws {
        let directory = TemporaryDirectory("ledger-journal")
        var (environment, ledger) = try journaledLedger(directory.path)
        _ = try ledger.commit(someBatches())
        let contents = try ledger.contents()
        ledger.close()
        environment.close()
        (environment, ledger) = try journaledLedger(directory.path)
        #expect(try ledger.contents() == contents)
        let next = try ledger.commit([LedgerBatch(number: 1, operations: [.prepare(recipient: bob, payload: [5])])])
        #expect(next == [[MessageID(sender: me, sequence: 3)]])
        environment.close()
    }

    @Test func checkpointEmptiesTheJournalAndKeepsEverything() throws {
        let directory = TemporaryDirectory("ledger-journal")
        var (environment, ledger) = try journaledLedger(directory.path)
        _ = try ledger.commit(someBatches())
        try ledger.checkpoint()
        #expect(FileManager.default.contents(atPath: directory.path + "/journal")?.isEmpty == true)
        let contents = try ledger.contents()
        ledger.close()
        environment.close()
        (environment, ledger) = try journaledLedger(directory.path)
        #expect(try ledger.contents() == contents)
        #expect(try ledger.commit([LedgerBatch(number: 1, operations: [.prepare(recipient: bob, payload: [5])])]) == [[MessageID(sender: me, sequence: 3)]])
        environment.close()
    }

    @Test func aFailedOperationWritesNothingToTheJournal() throws {
        let directory = TemporaryDirectory("ledger-journal")
        let (environment, ledger) = try journaledLedger(directory.path)
        var told = false
        #expect(throws: ClientLedger.LedgerError.self) {
            try ledger.commit([LedgerBatch(number: 1, operations: [.markDelivered(MessageID(sender: carol, sequence: 2))])]) { _ in told = true }
        }
        #expect(!told)
        #expect(FileManager.default.contents(atPath: directory.path + "/journal")?.isEmpty == true)
        #expect(try ledger.commit(someBatches()).count == 2)
        environment.close()
    }

    @Test func aJournalThatDoesNotFollowTheLedgerIsRefused() throws {
        let source = TemporaryDirectory("ledger-journal")
        var (environment, ledger) = try journaledLedger(source.path)
        _ = try ledger.commit(someBatches())
        _ = try ledger.commit([LedgerBatch(number: 3, operations: [.prepare(recipient: carol, payload: [9])])])
        let journal = try #require(FileManager.default.contents(atPath: source.path + "/journal"))
        ledger.close()
        environment.close()
        // Only the second record (number 2) beside an LMDB that holds none: a gap.
        let records = try Journal(path: source.path + "/journal").recovered
        #expect(records.count == 2 && journal.count > 0)
        let target = TemporaryDirectory("ledger-journal")
        let copy = try Journal(path: target.path + "/journal")
        try copy.append(records[1])
        copy.close()
        let targetEnvironment = try Environment(path: target.path + "/lmdb")
        #expect(throws: JournaledCommits.Failure.mismatch(path: target.path + "/journal", applied: 0, found: 2)) {
            try ClientLedger(environment: targetEnvironment, me: me, journalPath: target.path + "/journal")
        }
        targetEnvironment.close()
        (environment, ledger) = try journaledLedger(source.path)
        environment.close()
    }

    @Test func aLargeJournalIsCheckpointedAndEmptied() throws {
        let directory = TemporaryDirectory("ledger-journal")
        var (environment, ledger) = try journaledLedger(directory.path)
        let payload = [UInt8](repeating: 1, count: JournaledCommits.checkpointBytes / 4)
        for number in 1...5 {
            _ = try ledger.commit([LedgerBatch(number: UInt64(number), operations: [.prepare(recipient: bob, payload: payload)])])
        }
        let size = FileManager.default.contents(atPath: directory.path + "/journal")?.count ?? -1
        #expect(size >= 0 && size < JournaledCommits.checkpointBytes / 2)
        ledger.close()
        environment.close()
        (environment, ledger) = try journaledLedger(directory.path)
        #expect(try ledger.pending().map(\.id.sequence) == [1, 2, 3, 4, 5])
        environment.close()
    }
}
