import Foundation
import LMDB
import Testing
import TestSupport

@Suite struct JournalTests {
    private func bytes(_ path: String) -> [UInt8] {
        FileManager.default.contents(atPath: path).map { [UInt8]($0) } ?? []
    }

    private func write(_ bytes: [UInt8], to path: String) {
        #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
    }

    @Test func crc32cMatchesTheStandardCheckValue() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([]) == 0)
    }

    @Test func appendedRecordsAreReadBackInOrder() throws {
        let scratch = TemporaryDirectory("journal")
        let path = scratch.file("j")
        let journal = try Journal(path: path)
        #expect(journal.recovered.isEmpty)
        try journal.append([1, 2, 3])
        try journal.append([])
        try journal.append(Array(repeating: 7, count: 100_000))
        #expect(journal.size == 3 * 8 + 3 + 100_000)
        journal.close()
        let reopened = try Journal(path: path)
        #expect(reopened.recovered == [[1, 2, 3], [], Array(repeating: 7, count: 100_000)])
        #expect(reopened.discardedBytes == 0)
        var info = stat()
        #expect(stat(path, &info) == 0 && info.st_mode & 0o077 == 0)
    }

    @Test func aTornLastRecordIsCutAndTheNextAppendFollowsTheLastWholeOne() throws {
        let scratch = TemporaryDirectory("journal")
        let path = scratch.file("j")
        let journal = try Journal(path: path)
        try journal.append([1])
        try journal.append([2, 2])
        journal.close()
        // A crash in the middle of the third append: its header says 10 bytes, 4 made it.
        let whole = bytes(path)
        write(whole + [0, 0, 0, 10, 1, 2, 3, 4, 9, 9, 9, 9], to: path)
        let reopened = try Journal(path: path)
        #expect(reopened.recovered == [[1], [2, 2]])
        #expect(reopened.discardedBytes == 12)
        #expect(bytes(path) == whole)
        try reopened.append([3])
        reopened.close()
        #expect(try Journal(path: path).recovered == [[1], [2, 2], [3]])
    }

    @Test func aRecordFailingItsChecksumEndsTheJournal() throws {
        let scratch = TemporaryDirectory("journal")
        let path = scratch.file("j")
        let journal = try Journal(path: path)
        try journal.append([1, 1, 1])
        try journal.append([2, 2, 2])
        journal.close()
        var damaged = bytes(path)
        damaged[damaged.count - 1] ^= 0x40
        write(damaged, to: path)
        let reopened = try Journal(path: path)
        #expect(reopened.recovered == [[1, 1, 1]])
        #expect(reopened.discardedBytes == 11)
    }

    @Test func aLengthBeyondTheFileOrTheMaximumIsATornRecordNotACrash() throws {
        let scratch = TemporaryDirectory("journal")
        let path = scratch.file("j")
        write([0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 1], to: path)
        let journal = try Journal(path: path)
        #expect(journal.recovered.isEmpty)
        #expect(journal.discardedBytes == 9)
        #expect(journal.size == 0)
    }

    @Test func aTailOfZerosIsATornRecordNotEmptyRecords() throws {
        let scratch = TemporaryDirectory("journal")
        let path = scratch.file("j")
        let journal = try Journal(path: path)
        try journal.append([])
        try journal.append([5])
        journal.close()
        write(bytes(path) + [UInt8](repeating: 0, count: 4096), to: path)
        let reopened = try Journal(path: path)
        #expect(reopened.recovered == [[], [5]])
        #expect(reopened.discardedBytes == 4096)
    }

    @Test func resetEmptiesTheJournalDurably() throws {
        let scratch = TemporaryDirectory("journal")
        let path = scratch.file("j")
        let journal = try Journal(path: path)
        try journal.append([1])
        try journal.reset()
        #expect(journal.size == 0)
        try journal.append([2])
        journal.close()
        #expect(try Journal(path: path).recovered == [[2]])
        #expect(throws: JournalError.self) { try journal.append([3]) }
    }

    @Test func anUnopenableJournalIsATypedError() {
        #expect(throws: JournalError.self) { try Journal(path: "/nonexistent-\(UUID().uuidString)/j") }
    }
}
