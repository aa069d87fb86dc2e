import Foundation
import LMDB
import P2PCore
import Raft
import Testing
import TestSupport
@testable import RaftStorage

@Suite struct JournaledLogStorageTests {
    private func entry(_ index: LogIndex, term: Term) -> LogEntry {
        LogEntry(index: index, term: term, data: Array("e\(index)t\(term)".utf8))
    }

    private func stored(_ entry: LogEntry) -> RaftLogStore.StoredEntry {
        RaftLogStore.StoredEntry(index: entry.index, term: entry.term, bytes: entry.encodedPayload())
    }

    @Test func aBatchSurvivesItsJournalRecord() throws {
        let batch = RaftLogStore.Batch(truncateFrom: 7, entries: [stored(entry(7, term: 2)), stored(entry(8, term: 2))], hardState: [1, 2, 3])
        let decoded = try RaftLogStore.Batch(journalRecord: batch.journalRecord())
        #expect(decoded.truncateFrom == 7)
        #expect(decoded.entries == batch.entries)
        #expect(decoded.hardState == [1, 2, 3])
        let empty = try RaftLogStore.Batch(journalRecord: RaftLogStore.Batch().journalRecord())
        #expect(empty.isEmpty)
    }

    @Test func aDamagedRecordIsADecodingErrorNotATrap() throws {
        let record = RaftLogStore.Batch(entries: [stored(entry(1, term: 1))], hardState: [9]).journalRecord()
        for length in 0..<record.count {
            #expect(throws: DecodingError.self) { try RaftLogStore.Batch(journalRecord: Array(record.prefix(length))) }
        }
        #expect(throws: DecodingError.self) { try RaftLogStore.Batch(journalRecord: record + [0]) }
    }

    /// Entries journaled but not in LMDB yet are read from memory; where a truncation replaced
    /// entries LMDB still holds, the pending ones win; once LMDB has them, they are read from it.
    @Test func pendingEntriesAreReadBeforeLMDBsAndLeaveOnceLMDBHasThem() throws {
        let scratch = TemporaryDirectory("journaled-log")
        let environment = try Environment(path: scratch.path)
        defer { environment.close() }
        let store = try RaftLogStore(environment: environment)
        let storage = JournaledLogStorage(store: store)
        let old = (1...5).map { entry($0, term: 1) }
        try store.persist(.init(entries: old.map(stored)))

        let replacing = (4...7).map { entry($0, term: 2) }
        storage.add(replacing, truncatingFrom: 4)
        let expected = Array(old.prefix(3)) + replacing
        #expect(storage.entries(from: 1, through: 7, maxBytes: .max) == expected)
        #expect(storage.entries(from: 5, through: 6, maxBytes: .max) == Array(replacing[1...2]))
        // At least one entry, then no more than maxBytes.
        #expect(storage.entries(from: 1, through: 7, maxBytes: 1) == [old[0]])

        try store.persist(.init(truncateFrom: 4, entries: replacing.map(stored)))
        storage.remove(replacing)
        #expect(storage.pendingCount == 0)
        #expect(storage.entries(from: 1, through: 7, maxBytes: .max) == expected)
        // An entry replaced again meanwhile stays pending.
        storage.add([entry(7, term: 3)], truncatingFrom: 7)
        storage.remove([entry(7, term: 2)])
        #expect(storage.entries(from: 7, through: 7, maxBytes: .max) == [entry(7, term: 3)])
    }
}
