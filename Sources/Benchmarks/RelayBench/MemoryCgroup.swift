import Foundation

/// A memory cgroup of its own for each benchmarked server, with a hard limit: the proof that a
/// server works within that much memory, page cache included (the kernel reclaims the clean
/// pages of LMDB's memory map under the limit, and kills the process if its own memory alone
/// would exceed it). Uses cgroup v2 (`memory.max`) where the memory controller is there, else
/// cgroup v1 (`memory.limit_in_bytes`); needs root.
struct MemoryCgroup {
    struct Unavailable: Error, CustomStringConvertible {
        let description: String
    }

    /// The directory the server's cgroup is made in, and the name of the limit file there.
    private let parent: String
    private let limitFile: String
    private let peakFile: String?
    let limitBytes: Int

    /// Finds where this process may make memory cgroups.
    init(limitBytes: Int) throws {
        self.limitBytes = limitBytes
        let fileManager = FileManager.default
        let membership = (try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8)) ?? ""
        let lines = membership.split(separator: "\n")
        if let controllers = try? String(contentsOfFile: "/sys/fs/cgroup/cgroup.controllers", encoding: .utf8),
           controllers.split(separator: " ").contains(where: { $0.trimmingCharacters(in: .whitespacesAndNewlines) == "memory" }),
           let own = lines.first(where: { $0.hasPrefix("0::") }) {
            parent = "/sys/fs/cgroup" + String(own.dropFirst(3))
            limitFile = "memory.max"
            peakFile = "memory.peak"
        } else if fileManager.fileExists(atPath: "/sys/fs/cgroup/memory/memory.limit_in_bytes") {
            let own = lines.first { $0.split(separator: ":").dropFirst().first?.split(separator: ",").contains("memory") == true }
            let path = own.map { String($0.split(separator: ":", maxSplits: 2).last ?? "") } ?? ""
            parent = "/sys/fs/cgroup/memory" + (path == "/" ? "" : path)
            limitFile = "memory.limit_in_bytes"
            peakFile = "memory.max_usage_in_bytes"
        } else {
            throw Unavailable(description: "no memory cgroup controller under /sys/fs/cgroup")
        }
        guard fileManager.isWritableFile(atPath: parent) else {
            throw Unavailable(description: "\(parent) is not writable (run as root)")
        }
    }

    private func directory(_ name: String) -> String { "\(parent)/p2pcore-bench-\(getpid())-\(name)" }

    /// Puts `pid` (the server `name`) in a cgroup of its own with the limit, making it if needed.
    func confine(_ pid: pid_t, name: String) throws {
        let dir = directory(name)
        if !FileManager.default.fileExists(atPath: dir) {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
            try write("\(limitBytes)", to: "\(dir)/\(limitFile)")
        }
        try write("\(pid)", to: "\(dir)/cgroup.procs")
    }

    /// The most memory (page cache included) the server `name`'s cgroup was charged, if known.
    func peakBytes(_ name: String) -> Int? {
        guard let peakFile, let text = try? String(contentsOfFile: "\(directory(name))/\(peakFile)", encoding: .utf8) else { return nil }
        return Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Removes the cgroups (once their processes are gone).
    func remove(_ names: [String]) {
        for name in names { rmdir(directory(name)) }
    }

    private func write(_ text: String, to path: String) throws {
        guard let handle = FileHandle(forWritingAtPath: path) else { throw Unavailable(description: "cannot open \(path)") }
        defer { try? handle.close() }
        try handle.write(contentsOf: Data(text.utf8))
    }
}
