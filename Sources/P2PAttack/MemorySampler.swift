import Foundation
import Synchronization

/// Samples the resident set size (`VmRSS` in `/proc/<pid>/status`) of the server processes,
/// recording each one's peak while an attack runs.
final class MemorySampler: Sendable {
    /// Server name → pid.
    let pids: [(name: String, pid: Int32)]
    private let peaks = Mutex<[String: Int]>([:])

    init(pids: [(name: String, pid: Int32)]) {
        self.pids = pids
    }

    /// `VmRSS` of `pid` in bytes, or `nil` if the process is gone.
    static func residentBytes(of pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 2, let kilobytes = Int(fields[1]) else { return nil }
            return kilobytes * 1024
        }
        return nil
    }

    /// `RssAnon` and `RssFile` of `pid` in bytes (heap and stacks; mapped files such as LMDB's).
    static func residentSplit(of pid: Int32) -> (anonymous: Int, file: Int) {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return (0, 0) }
        var split = (anonymous: 0, file: 0)
        for line in status.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 2, let kilobytes = Int(fields[1]) else { continue }
            if fields[0].hasPrefix("RssAnon:") { split.anonymous = kilobytes * 1024 }
            if fields[0].hasPrefix("RssFile:") { split.file = kilobytes * 1024 }
        }
        return split
    }

    /// Each server's current RSS (0 for a process that is gone).
    func current() -> [String: Int] {
        Dictionary(uniqueKeysWithValues: pids.map { ($0.name, Self.residentBytes(of: $0.pid) ?? 0) })
    }

    private func record() {
        let now = current()
        peaks.withLock { peaks in
            for (name, bytes) in now { peaks[name] = max(peaks[name] ?? 0, bytes) }
        }
    }

    /// Runs `body` while sampling every 50 ms; returns its result and each server's peak RSS
    /// (including samples right before and after).
    func sampling<T: Sendable>(_ body: () async throws -> T) async rethrows -> (T, [String: Int]) {
        peaks.withLock { $0 = [:] }
        record()
        let sampler = Task {
            while !Task.isCancelled {
                record()
                try? await Task.sleep(for: .milliseconds(50))
            }
        }
        defer { sampler.cancel() }
        let result = try await body()
        record()
        // Memory freed late (a closed link's buffers) is still the attack's: sample a little longer.
        for _ in 0..<10 {
            try? await Task.sleep(for: .milliseconds(50))
            record()
        }
        return (result, peaks.withLock { $0 })
    }
}

/// Megabytes with one decimal, for the report.
func megabytes(_ bytes: Int) -> String {
    String(format: "%.1f", Double(bytes) / 1_048_576)
}
