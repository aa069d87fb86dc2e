import Foundation
import Testing
import TestSupport
@testable import LMDB

@Suite struct EnvironmentTests {
    private func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    @Test func valuesSurviveCloseAndReopen() throws {
        let dir = TemporaryDirectory()
        do {
            let env = try Environment(path: dir.path)
            let db = try env.openDatabase("things")
            try env.write { txn in
                for i in 0..<100 {
                    try txn.put(db, bytes("key\(i)"), bytes("value\(i)"))
                }
            }
            env.close()
        }
        let env = try Environment(path: dir.path)
        let db = try env.openDatabase("things", create: false)
        let (count, value) = try env.read { txn in
            (try txn.count(db), try txn.get(db, bytes("key42")))
        }
        #expect(count == 100)
        #expect(value == bytes("value42"))
    }

    @Test func anAtomicCommitIsVisibleSurvivesReopeningAndLeavesLaterCommitsDurable() throws {
        let dir = TemporaryDirectory()
        do {
            let env = try Environment(path: dir.path)
            let db = try env.openDatabase("things")
            try env.write(.atomic) { txn in try txn.put(db, bytes("a"), bytes("1")) }
            #expect(try env.read { try $0.get(db, bytes("a")) } == bytes("1"))
            #expect(!env.defersMetaSync, "the metadata sync is skipped for the atomic commit only")
            struct Refused: Error {}
            #expect(throws: Refused.self) { try env.write(.atomic) { _ in throw Refused() } }
            #expect(!env.defersMetaSync, "nor left skipped by an aborted one")
            try env.write { txn in try txn.put(db, bytes("b"), bytes("2")) }
            env.close()
        }
        let env = try Environment(path: dir.path)
        let db = try env.openDatabase("things", create: false)
        #expect(try env.read { [try $0.get(db, bytes("a")), try $0.get(db, bytes("b"))] } == [bytes("1"), bytes("2")])
    }

    @Test func mapGrowsFromOneMebibyteToSixtyFourMebibytesOfData() throws {
        let dir = TemporaryDirectory()
        var configuration = Environment.Configuration()
        configuration.mapSize = 1 << 20
        configuration.syncOnCommit = false
        let env = try Environment(path: dir.path, configuration: configuration)
        let db = try env.openDatabase("blobs")
        let record = [UInt8](repeating: 0xAB, count: 4096)
        // 64 transactions of 256 × 4 KiB = 64 MiB of values.
        for batch in 0..<64 {
            try env.write { txn in
                for i in 0..<256 {
                    try txn.put(db, UInt64(batch * 256 + i).bigEndianBytes, record)
                }
            }
        }
        let info = try env.info()
        #expect(info.mapSize >= 64 << 20)
        #expect(try env.read { try $0.count(db) } == 64 * 256)
        env.close()

        let reopened = try Environment(path: dir.path, configuration: configuration)
        let reopenedDB = try reopened.openDatabase("blobs", create: false)
        let last = try reopened.read { try $0.get(reopenedDB, UInt64(64 * 256 - 1).bigEndianBytes) }
        #expect(last == record)
    }

    @Test func throwingInsideAWriteLeavesNothingBehind() throws {
        struct Boom: Error {}
        let dir = TemporaryDirectory()
        let env = try Environment(path: dir.path)
        let db = try env.openDatabase("d")
        try env.write { try $0.put(db, bytes("kept"), bytes("1")) }
        #expect(throws: Boom.self) {
            try env.write { txn in
                try txn.put(db, bytes("lost"), bytes("2"))
                try txn.delete(db, bytes("kept"))
                throw Boom()
            }
        }
        try env.read { txn throws in
            #expect(try txn.get(db, bytes("lost")) == nil)
            #expect(try txn.get(db, bytes("kept")) == bytes("1"))
        }
    }

    @Test func insertOnlyReportsKeyExistsWithLMDBsMessage() throws {
        let dir = TemporaryDirectory()
        let env = try Environment(path: dir.path)
        let db = try env.openDatabase("d")
        try env.write { try $0.put(db, bytes("k"), bytes("1")) }
        do {
            try env.write { try $0.put(db, bytes("k"), bytes("2"), mode: .insertOnly) }
            Issue.record("a duplicate insert must throw")
        } catch let error as LMDBError {
            #expect(error.code == LMDBError.keyExists)
            #expect(error.message.contains("MDB_KEYEXIST"))
        }
    }

    @Test func closedEnvironmentThrowsInsteadOfCrashing() throws {
        let dir = TemporaryDirectory()
        let env = try Environment(path: dir.path)
        let db = try env.openDatabase("d")
        env.close()
        do {
            _ = try env.read { try $0.get(db, [1]) }
            Issue.record("reading a closed environment must throw")
        } catch let error as LMDBError {
            #expect(error.code == LMDBError.closedCode)
        }
    }
}
