import Foundation
import Testing
import TestSupport
@testable import LMDB

@Suite struct CursorTests {
    @Test func integerKeysScanInNumericOrder() throws {
        let dir = TemporaryDirectory()
        let env = try Environment(path: dir.path)
        let db = try env.openDatabase("ints")
        let numbers: [UInt64] = [1, 256, 2, 65_536, 255, 0, UInt64.max, 1 << 40, 3]
        try env.write { txn in
            for n in numbers { try txn.put(db, n.bigEndianBytes, []) }
        }
        var seen: [UInt64] = []
        try env.read { txn in
            try txn.scan(db) { key, _ in
                seen.append(UInt64(bigEndianBytes: key) ?? 0)
                return true
            }
        }
        #expect(seen == numbers.sorted())
    }

    @Test func rangeScanAndReverseWalk() throws {
        let dir = TemporaryDirectory()
        let env = try Environment(path: dir.path)
        let db = try env.openDatabase("ints")
        try env.write { txn in
            for n in UInt64(0)..<100 { try txn.put(db, n.bigEndianBytes, n.bigEndianBytes) }
        }
        var range: [UInt64] = []
        try env.read { txn in
            try txn.scan(db, from: UInt64(10).bigEndianBytes, until: UInt64(20).bigEndianBytes) { key, _ in
                range.append(UInt64(bigEndianBytes: key) ?? 0)
                return true
            }
        }
        #expect(range == Array(10..<20))

        let descending = try env.read { txn in
            try txn.withCursor(db) { cursor in
                var out: [UInt64] = []
                var entry = try cursor.last()
                while let e = entry, out.count < 3 {
                    out.append(UInt64(bigEndianBytes: e.value) ?? 0)
                    entry = try cursor.previous()
                }
                return out
            }
        }
        #expect(descending == [99, 98, 97])
    }

    @Test func deleteRangeRemovesExactlyTheRange() throws {
        let dir = TemporaryDirectory()
        let env = try Environment(path: dir.path)
        let db = try env.openDatabase("ints")
        try env.write { txn in
            for n in UInt64(0)..<50 { try txn.put(db, n.bigEndianBytes, []) }
        }
        let removed = try env.write { try $0.deleteRange(db, from: UInt64(40).bigEndianBytes, until: nil) }
        let removedPrefix = try env.write { try $0.deleteRange(db, from: UInt64(0).bigEndianBytes, until: UInt64(5).bigEndianBytes) }
        #expect(removed == 10)
        #expect(removedPrefix == 5)
        let remaining = try env.read { txn in
            try txn.withCursor(db) { cursor in
                (try cursor.first().map { UInt64(bigEndianBytes: $0.key) }, try cursor.last().map { UInt64(bigEndianBytes: $0.key) })
            }
        }
        #expect(remaining.0 == 5)
        #expect(remaining.1 == 39)
    }

    @Test func bigEndianDecodingRejectsWrongLengths() {
        #expect(UInt64(bigEndianBytes: [1, 2, 3]) == nil)
        #expect(UInt32(bigEndianBytes: [0, 0, 1, 0]) == 256)
    }
}
