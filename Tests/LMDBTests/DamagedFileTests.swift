import Foundation
import Testing
import TestSupport
@testable import LMDB

@Suite struct DamagedFileTests {
    private func makeDatabase(at path: String, records: Int) throws {
        let env = try Environment(path: path)
        let db = try env.openDatabase("d")
        try env.write { txn in
            for i in 0..<records {
                try txn.put(db, UInt64(i).bigEndianBytes, [UInt8](repeating: 1, count: 1024))
            }
        }
        env.close()
    }

    @Test func aNonLMDBFileIsAClearErrorAndIsLeftUntouched() throws {
        let dir = TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir.path, withIntermediateDirectories: true)
        var generator = SystemRandomNumberGenerator()
        let garbage = Data((0..<65_536).map { _ in UInt8.random(in: 0...255, using: &generator) })
        try garbage.write(to: URL(fileURLWithPath: dir.file("data.mdb")))
        do {
            _ = try Environment(path: dir.path)
            Issue.record("opening garbage must throw")
        } catch {
            #expect(error.code == LMDBError.invalid)
            #expect(error.message.contains("not an LMDB file"))
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.file("data.mdb"))) == garbage)
    }

    @Test func aTinyFileIsReportedAsTruncated() throws {
        let dir = TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir.path, withIntermediateDirectories: true)
        try Data("hello, not lmdb".utf8).write(to: URL(fileURLWithPath: dir.file("data.mdb")))
        do {
            _ = try Environment(path: dir.path)
            Issue.record("opening a 15-byte data file must throw")
        } catch {
            #expect(error.code == LMDBError.truncatedCode)
        }
    }

    @Test func aTruncatedDatabaseIsAClearErrorNotACrash() throws {
        let dir = TemporaryDirectory()
        try makeDatabase(at: dir.path, records: 2000)
        let dataFile = dir.file("data.mdb")
        let size = try FileManager.default.attributesOfItem(atPath: dataFile)[.size] as? Int ?? 0
        #expect(size > 1 << 20)
        #expect(truncate(dataFile, off_t(size / 2)) == 0)
        do {
            _ = try Environment(path: dir.path)
            Issue.record("opening a truncated database must throw")
        } catch {
            #expect(error.code == LMDBError.truncatedCode)
            #expect(error.message.contains("truncated"))
        }
    }
}
