import Foundation
import Testing
import TestSupport
@testable import LMDB

@Suite struct DetachedReadTests {
    @Test func aDetachedReadSeesOneSnapshotWhileWritesGrowTheMap() throws {
        let dir = TemporaryDirectory()
        var configuration = Environment.Configuration()
        configuration.mapSize = 1 << 20
        configuration.syncOnCommit = false
        let env = try Environment(path: dir.path, configuration: configuration)
        let db = try env.openDatabase("numbers")
        try env.write { txn in
            for n in UInt64(0)..<100 { try txn.put(db, n.bigEndianBytes, n.bigEndianBytes) }
        }
        let snapshot = try env.beginDetachedRead()
        // Writes after the snapshot began, enough to grow the map several times.
        let filler = [UInt8](repeating: 7, count: 1024)
        try env.write { txn in
            for n in UInt64(100)..<8_000 { try txn.put(db, n.bigEndianBytes, filler) }
            try txn.delete(db, UInt64(5).bigEndianBytes)
        }
        #expect(try env.info().mapSize > 1 << 20)
        // Read in pieces, a fresh cursor each time, resuming after the last key.
        var seen: [UInt64] = []
        var last: [UInt8]?
        while true {
            let piece = try snapshot.read { txn in
                try txn.withCursor(db) { cursor in
                    var entry = try last.map { try cursor.seek(atLeast: $0 + [0]) } ?? cursor.first()
                    var keys: [[UInt8]] = []
                    while let current = entry, keys.count < 7 {
                        keys.append(current.key)
                        entry = try cursor.next()
                    }
                    return keys
                }
            }
            if piece.isEmpty { break }
            seen += piece.compactMap { UInt64(bigEndianBytes: $0) }
            last = piece.last
        }
        #expect(seen == Array(0..<100))
        snapshot.end()
        #expect(throws: LMDBError.self) { try snapshot.read { txn in try txn.count(db) } }
        #expect(try env.read { txn in try txn.count(db) } == 7_999)
    }

    @Test func closingTheEnvironmentEndsDetachedReads() throws {
        let dir = TemporaryDirectory()
        let env = try Environment(path: dir.path)
        let db = try env.openDatabase("numbers")
        let snapshot = try env.beginDetachedRead()
        #expect(try snapshot.read { txn in try txn.count(db) } == 0)
        env.close()
        #expect(throws: LMDBError.self) { try snapshot.read { txn in try txn.count(db) } }
        snapshot.end()
    }
}
