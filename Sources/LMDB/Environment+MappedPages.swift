import CLMDB
import Glibc

extension Environment {
    /// Unmaps from this process the pages of the data file that reads touched, so that they stop
    /// counting in its resident size; returns the bytes of mapping released (0 when the file's
    /// mapping was not found).
    ///
    /// LMDB reads through a read-only shared mapping of `data.mdb` (writes go through the file
    /// descriptor), so every page a read touches stays in the process's resident set until the
    /// process exits, although it is clean page cache the kernel may reclaim. A server that reads
    /// its whole database (a drain, a snapshot streamed to a new server) would show the size of
    /// the file as resident. `madvise(MADV_DONTNEED)` on a shared file mapping drops only the
    /// page-table entries: the data stays in the file and the page cache, and the next read of a
    /// page maps it again (a minor fault). Nothing is written or lost, so it is safe beside
    /// running transactions; the map is not moved meanwhile (a resize waits for this).
    @discardableResult
    public func releaseMappedPages() throws(LMDBError) -> Int {
        try resizeLock.withSharedLock { () throws(LMDBError) -> Int in
            try ensureOpen()
            var st = stat()
            let dataPath = path + "/data.mdb"
            guard stat(dataPath, &st) == 0 else { throw LMDBError(code: errno, operation: "stat(\(dataPath))") }
            guard let maps = Self.readProcessMaps() else { return 0 }
            var released = 0
            let device = UInt64(st.st_dev)
            // glibc's encoding of a device number (gnu_dev_major, gnu_dev_minor).
            let major = ((device >> 8) & 0xFFF) | ((device >> 32) & ~0xFFF)
            let minor = (device & 0xFF) | ((device >> 12) & ~0xFF)
            for range in Self.mappedRanges(in: maps, device: (major, minor), inode: UInt64(st.st_ino)) {
                guard let start = UnsafeMutableRawPointer(bitPattern: range.lowerBound) else { continue }
                guard madvise(start, range.count, MADV_DONTNEED) == 0 else {
                    throw LMDBError(code: errno, operation: "madvise(\(dataPath))")
                }
                released += range.count
            }
            return released
        }
    }

    /// The address ranges that `maps` (the text of `/proc/self/maps`) lists as *shared* mappings
    /// of the file `inode` on `device`. Private mappings are never listed: dropping their pages
    /// would discard the process's own changes to them.
    static func mappedRanges(in maps: String, device: (major: UInt64, minor: UInt64), inode: UInt64) -> [Range<UInt>] {
        var ranges: [Range<UInt>] = []
        for line in maps.split(separator: "\n") {
            // start-end perms offset major:minor inode [path]
            let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            guard fields.count >= 5, UInt64(fields[4]) == inode, fields[1].count == 4, fields[1].last == "s" else { continue }
            let numbers = fields[3].split(separator: ":")
            guard numbers.count == 2, UInt64(numbers[0], radix: 16) == device.major, UInt64(numbers[1], radix: 16) == device.minor else { continue }
            let bounds = fields[0].split(separator: "-")
            guard bounds.count == 2, let start = UInt(bounds[0], radix: 16), let end = UInt(bounds[1], radix: 16), start < end else { continue }
            ranges.append(start..<end)
        }
        return ranges
    }

    /// `/proc/self/maps`, or `nil` where it cannot be read.
    private static func readProcessMaps() -> String? {
        let descriptor = open("/proc/self/maps", O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { Glibc.close(descriptor) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            bytes.append(contentsOf: buffer[0..<count])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
