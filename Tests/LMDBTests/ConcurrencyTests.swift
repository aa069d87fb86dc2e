import Foundation
import Testing
import TestSupport
@testable import LMDB

@Suite struct ConcurrencyTests {
    /// A reader that started before a commit keeps seeing the data as it was when it started.
    @Test func readerKeepsItsSnapshotWhileAWriterCommits() throws {
        let dir = TemporaryDirectory()
        let env = try Environment(path: dir.path)
        let db = try env.openDatabase("d")
        let key: [UInt8] = [7]
        try env.write { try $0.put(db, key, [1]) }

        let readerOpen = DispatchSemaphore(value: 0)
        let writerDone = DispatchSemaphore(value: 0)
        let writer = Thread {
            readerOpen.wait()
            try? env.write { txn in
                try txn.put(db, key, [2])
                try txn.put(db, [8], [2])
            }
            writerDone.signal()
        }
        writer.start()

        let (before, after, countAfter) = try env.read { txn in
            let before = try txn.get(db, key)
            readerOpen.signal()
            writerDone.wait()
            return (before, try txn.get(db, key), try txn.count(db))
        }
        #expect(before == [1])
        #expect(after == [1])
        #expect(countAfter == 1)
        #expect(try env.read { try $0.get(db, key) } == [2])
    }

    /// Writers from many threads, all growing a tiny map at once, lose nothing.
    @Test func concurrentWritersGrowingTheMapLoseNothing() throws {
        let dir = TemporaryDirectory()
        var configuration = Environment.Configuration()
        configuration.mapSize = 256 << 10
        configuration.syncOnCommit = false
        let env = try Environment(path: dir.path, configuration: configuration)
        let db = try env.openDatabase("d")
        let threads = 4
        let perThread = 200
        let group = DispatchGroup()
        for t in 0..<threads {
            group.enter()
            Thread {
                defer { group.leave() }
                for i in 0..<perThread {
                    try? env.write { txn in
                        try txn.put(db, UInt64(t * perThread + i).bigEndianBytes, [UInt8](repeating: UInt8(t), count: 2048))
                    }
                }
            }.start()
        }
        group.wait()
        #expect(try env.read { try $0.count(db) } == threads * perThread)
        #expect(try env.info().mapSize > 256 << 10)
    }
}
