import Glibc

/// This process's resident memory, from `/proc/self/statm`: in all, and the part that maps files
/// (the binary and libraries, and LMDB's database pages).
struct ResidentMemory: Equatable, Sendable {
    var residentBytes: Int
    var fileBackedBytes: Int

    init(residentBytes: Int, fileBackedBytes: Int) {
        self.residentBytes = residentBytes
        self.fileBackedBytes = fileBackedBytes
    }

    /// Parses the text of `/proc/<pid>/statm` ("size resident shared text lib data dt", in pages);
    /// `shared` counts the file-backed (and shared memory) resident pages.
    init?(statm: String, pageSize: Int) {
        let fields = statm.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard fields.count >= 3, let resident = Int(fields[1]), let shared = Int(fields[2]) else { return nil }
        residentBytes = resident * pageSize
        fileBackedBytes = shared * pageSize
    }

    /// Reads this process's figures (`nil` where `/proc` cannot be read).
    static func current() -> ResidentMemory? {
        let descriptor = open("/proc/self/statm", O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        guard count > 0 else { return nil }
        return ResidentMemory(statm: String(decoding: buffer[0..<count], as: UTF8.self), pageSize: Int(sysconf(Int32(_SC_PAGESIZE))))
    }
}
