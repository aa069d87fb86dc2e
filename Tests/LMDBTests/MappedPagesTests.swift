import Foundation
import Testing
import TestSupport
@testable import LMDB

@Suite struct MappedPagesTests {
    /// Resident KiB of the shared mappings of `file`, from `/proc/self/smaps`.
    private func residentKiB(of file: String) throws -> Int {
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/self/smaps"))
        defer { try? handle.close() }
        let smaps = String(decoding: try handle.readToEnd() ?? Data(), as: UTF8.self)
        var current = false
        var total = 0
        for line in smaps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if let first = fields.first, first.contains("-"), fields.count >= 5, first.first?.isHexDigit == true {
                current = fields.count >= 6 && fields[5] == file && fields[1].hasSuffix("s")
            } else if current, fields.first == "Rss:", fields.count >= 2, let kib = Int(fields[1]) {
                total += kib
            }
        }
        return total
    }

    @Test func readPagesStopBeingResidentAndReadTheSameAfterwards() async throws {
        let dir = TemporaryDirectory()
        let path = dir.path
        let (before, after, released, intact) = try await onOwnThread { () throws -> (Int, Int, Int, Bool) in
            var configuration = Environment.Configuration()
            configuration.syncOnCommit = false
            let env = try Environment(path: path, configuration: configuration)
            defer { env.close() }
            let db = try env.openDatabase("blobs")
            func value(_ i: Int) -> [UInt8] { [UInt8](repeating: UInt8(truncatingIfNeeded: i), count: 2048) }
            try env.write { txn in
                for i in 0..<4096 { try txn.put(db, Array("key\(i)".utf8), value(i)) }
            }
            func readAll() throws -> Bool {
                try env.read { txn in try (0..<4096).allSatisfy { try txn.get(db, Array("key\($0)".utf8)) == value($0) } }
            }
            let file = URL(fileURLWithPath: path + "/data.mdb").resolvingSymlinksInPath().path
            guard try readAll() else { return (0, 0, 0, false) }
            let before = try residentKiB(of: file)
            let released = try env.releaseMappedPages()
            let after = try residentKiB(of: file)
            return (before, after, released, try readAll())
        }
        #expect(before >= 8 << 10, "reading 8 MiB of values mapped them")
        #expect(released >= 8 << 20)
        #expect(after < 1 << 10, "unmapped: \(after) KiB left")
        #expect(intact, "every value reads the same after the release")
    }

    @Test func onlySharedMappingsOfTheFileAreListed() {
        let maps = """
            7fa3b0000000-7fa3d0000000 r--s 00000000 fe:00 16531730                   /data/lmdb/data.mdb
            7fa3d8000000-7fa3dc000000 r--p 00000000 fe:00 16531730                   /data/lmdb/data.mdb
            7fa3e0000000-7fa3e1000000 r--s 00000000 fe:01 16531730                   /other/data.mdb
            7fa401883000-7fa401885000 rw-s 00000000 fe:00 16531717                   /data/lmdb/lock.mdb
            7fa402301000-7fa402310000 r-xp 00003000 fe:00 4907142                    /usr/lib/liblmdb.so.0.0.0
            garbage line
            """
        let ranges = Environment.mappedRanges(in: maps, device: (0xFE, 0), inode: 16_531_730)
        #expect(ranges == [0x7FA3_B000_0000..<0x7FA3_D000_0000])
    }
}
