#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// An append-only file of checksummed records, each made durable by ``append(_:)`` with one
/// write and one `fdatasync`: a single device flush, where an LMDB commit needs two (its data,
/// then its metadata page). A store that must be durable at once writes its change here and
/// commits it to LMDB atomically but not durably; after a crash it replays the records its LMDB
/// state lacks. The records are read once, at ``init(path:)``. One writer at a time: two
/// appending to one file at their own offsets would overwrite each other's records.
///
/// On disk a record is its length (4 bytes, big-endian), the CRC-32C of the length and the body
/// (4 bytes), then the body. The length is checksummed too, so that a tail of zeros (what a file
/// extended by a write that never reached the disk can read back) is not a run of empty records.
/// A crash can tear only the last record (every earlier one was synced before the next was
/// written): opening stops at the first record that is incomplete or fails its checksum, and
/// cuts the file there, so that the next append follows the last whole record.
public final class Journal: Sendable {
    /// The journal's file.
    public let path: String
    /// The whole records found at ``init(path:)``, in order.
    public let recovered: [[UInt8]]
    /// Bytes cut off the end at ``init(path:)`` (a record torn by a crash).
    public let discardedBytes: Int
    /// The largest record ``append(_:)`` takes.
    public static let maximumRecordSize = 1 << 30

    private struct State {
        var fd: Int32
        var size: Int
    }

    private let state: Mutex<State>
    /// Whether appends are flushed to the device (see ``init(path:syncs:)``).
    public let syncs: Bool

    /// Opens (creating it, mode 0600, if needed) the journal at `path` and reads its records.
    /// With `syncs` false, appends are not flushed (durable against a process crash only), like
    /// an LMDB environment without `syncOnCommit`: for tests and throw-away state.
    public init(path: String, syncs: Bool = true) throws(JournalError) {
        self.path = path
        self.syncs = syncs
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw JournalError(path: path, operation: "open", code: errno) }
        do {
            let bytes = try Self.readAll(fd, path: path)
            var records: [[UInt8]] = []
            var offset = 0
            while let (record, next) = Self.record(in: bytes, at: offset) {
                records.append(record)
                offset = next
            }
            if offset < bytes.count {
                guard ftruncate(fd, off_t(offset)) == 0 else { throw JournalError(path: path, operation: "truncate", code: errno) }
                guard fsync(fd) == 0 else { throw JournalError(path: path, operation: "sync", code: errno) }
            }
            // A new file's name must be durable too, or a crash could lose the file with
            // everything synced into it.
            try Self.syncDirectory(of: path)
            recovered = records
            discardedBytes = bytes.count - offset
            state = Mutex(State(fd: fd, size: offset))
        } catch let error as JournalError {
            Self.closeDescriptor(fd)
            throw error
        } catch {
            Self.closeDescriptor(fd)
            throw JournalError(path: path, operation: "open: \(error)", code: 0)
        }
    }

    deinit {
        state.withLock { state in
            if state.fd >= 0 { Self.closeDescriptor(state.fd) }
        }
    }

    /// The file's size in bytes.
    public var size: Int { state.withLock { $0.size } }

    /// Appends `record` and returns once it is durable.
    public func append(_ record: [UInt8]) throws(JournalError) {
        guard record.count <= Self.maximumRecordSize else {
            throw JournalError(path: path, operation: "append of a \(record.count)-byte record (over the maximum)", code: 0)
        }
        let length = UInt32(record.count).bigEndianBytes
        var framed = length
        framed.reserveCapacity(record.count + 8)
        framed.append(contentsOf: CRC32C.checksum(length, record).bigEndianBytes)
        framed.append(contentsOf: record)
        try state.withLock { (state: inout State) throws(JournalError) in
            guard state.fd >= 0 else { throw JournalError(path: path, operation: "append after close", code: 0) }
            var written = 0
            while written < framed.count {
                let result = framed.withUnsafeBytes { buffer in
                    pwrite(state.fd, buffer.baseAddress.map { $0 + written }, framed.count - written, off_t(state.size + written))
                }
                if result < 0 {
                    if errno == EINTR { continue }
                    let code = errno
                    // Whatever part was written is cut again, so that a retry starts clean.
                    _ = ftruncate(state.fd, off_t(state.size))
                    throw JournalError(path: path, operation: "write", code: code)
                }
                written += result
            }
            guard !syncs || Self.syncData(state.fd) == 0 else {
                let code = errno
                _ = ftruncate(state.fd, off_t(state.size))
                throw JournalError(path: path, operation: "sync", code: code)
            }
            state.size += framed.count
        }
    }

    /// Empties the journal durably (what it held is durable elsewhere now).
    public func reset() throws(JournalError) {
        try state.withLock { (state: inout State) throws(JournalError) in
            guard state.fd >= 0 else { throw JournalError(path: path, operation: "reset after close", code: 0) }
            guard ftruncate(state.fd, 0) == 0 else { throw JournalError(path: path, operation: "truncate", code: errno) }
            guard fsync(state.fd) == 0 else { throw JournalError(path: path, operation: "sync", code: errno) }
            state.size = 0
        }
    }

    /// Closes the file; later appends throw.
    public func close() {
        state.withLock { state in
            if state.fd >= 0 { Self.closeDescriptor(state.fd) }
            state.fd = -1
        }
    }

    /// The record at `offset` and the offset after it, or `nil` if none whole starts there.
    static func record(in bytes: [UInt8], at offset: Int) -> ([UInt8], Int)? {
        guard bytes.count - offset >= 8,
              let length = UInt32(bigEndianBytes: bytes[offset..<(offset + 4)]).map(Int.init),
              let checksum = UInt32(bigEndianBytes: bytes[(offset + 4)..<(offset + 8)]),
              length <= maximumRecordSize, bytes.count - offset - 8 >= length
        else { return nil }
        let body = bytes[(offset + 8)..<(offset + 8 + length)]
        guard CRC32C.checksum(bytes[offset..<(offset + 4)], body) == checksum else { return nil }
        return (Array(body), offset + 8 + length)
    }

    private static func syncDirectory(of path: String) throws(JournalError) {
        let directory = path.lastIndex(of: "/").map { String(path[..<$0]) }.map { $0.isEmpty ? "/" : $0 } ?? "."
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw JournalError(path: path, operation: "open its directory", code: errno) }
        defer { closeDescriptor(fd) }
        guard fsync(fd) == 0 else { throw JournalError(path: path, operation: "sync its directory", code: errno) }
    }

    /// Flushes the file's data to the device: `fdatasync`, or on Darwin `F_FULLFSYNC` (its
    /// `fsync` leaves the drive's cache unflushed).
    private static func syncData(_ fd: Int32) -> Int32 {
        #if canImport(Glibc)
        return fdatasync(fd)
        #else
        return fcntl(fd, F_FULLFSYNC) == -1 ? fsync(fd) : 0
        #endif
    }

    private static func closeDescriptor(_ fd: Int32) {
        #if canImport(Glibc)
        _ = Glibc.close(fd)
        #elseif canImport(Darwin)
        _ = Darwin.close(fd)
        #endif
    }

    private static func readAll(_ fd: Int32, path: String) throws(JournalError) -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw JournalError(path: path, operation: "read", code: errno)
            }
            if count == 0 { return bytes }
            bytes.append(contentsOf: chunk[0..<count])
        }
    }

}
