import Foundation
import LMDB
import Testing
import TestSupport
@testable import RaftStorage

@Suite struct RaftLogStoreTests {
    private func withStore(_ body: (String, RaftLogStore) throws -> Void) throws {
        let scratch = TemporaryDirectory("raftlog")
        let path = scratch.path
        let environment = try Environment(path: path)
        try body(path, try RaftLogStore(environment: environment))
        environment.close()
    }

    private func entries(_ range: ClosedRange<UInt64>, term: UInt64) -> [RaftLogStore.StoredEntry] {
        range.map { RaftLogStore.StoredEntry(index: $0, term: term, bytes: Array("e\($0)t\(term)".utf8)) }
    }

    @Test func aBatchIsDurableAcrossReopen() throws {
        try withStore { path, store in
            try store.persist(.init(entries: entries(1...100, term: 1), hardState: [1, 2, 3]))
            let reopened = try RaftLogStore(environment: try Environment(path: path))
            let loaded = try reopened.load()
            #expect(loaded.hardState == [1, 2, 3])
            #expect(loaded.entries == entries(1...100, term: 1))
            #expect(loaded.snapshot == nil)
        }
    }

    @Test func truncationReplacesAConflictingSuffixAtomically() throws {
        try withStore { _, store in
            try store.persist(.init(entries: entries(1...10, term: 1)))
            try store.persist(.init(truncateFrom: 6, entries: entries(6...7, term: 2), hardState: [9]))
            let loaded = try store.load()
            #expect(loaded.entries == entries(1...5, term: 1) + entries(6...7, term: 2))
            #expect(loaded.hardState == [9])
        }
    }

    @Test func aSnapshotRemovesTheLogPrefixItCovers() throws {
        try withStore { _, store in
            try store.persist(.init(entries: entries(1...20, term: 3)))
            let snapshot = RaftLogStore.StoredSnapshot(index: 15, term: 3, metadata: [7], data: Array("state".utf8))
            try store.persist(.init(snapshot: snapshot))
            let loaded = try store.load()
            #expect(loaded.snapshot == snapshot)
            #expect(loaded.entries.map(\.index) == Array(16...20))
        }
    }

    @Test func aGapInTheStoredLogIsReportedNotSkipped() throws {
        try withStore { _, store in
            try store.persist(.init(entries: entries(1...3, term: 1) + entries(5...6, term: 1)))
            #expect(throws: (any Error).self) { try store.load() }
        }
    }
}
