import Foundation

/// What `/proc` says about a process: resident memory and CPU time used.
enum ProcessStats {
    /// Resident set size in KiB (`VmRSS` in `/proc/<pid>/status`), or `nil` if unreadable.
    static func residentKiB(_ pid: Int32?) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid.map { "\($0)" } ?? "self")/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return line.split(separator: " ").dropFirst().first.flatMap { Int($0) }
        }
        return nil
    }

    /// Anonymous resident memory in KiB (`RssAnon`: heap and stacks, without the file pages
    /// of LMDB's memory map, which VmRSS counts too), or `nil` if unreadable.
    static func anonymousKiB(_ pid: Int32?) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid.map { "\($0)" } ?? "self")/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("RssAnon:") {
            return line.split(separator: " ").dropFirst().first.flatMap { Int($0) }
        }
        return nil
    }

    /// Open file descriptors of a process (entries of `/proc/<pid>/fd`).
    static func openFiles(_ pid: Int32?) -> Int? {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid.map { "\($0)" } ?? "self")/fd"))?.count
    }

    /// The share of one core that `pids` used (each) over `seconds`, sampled around a sleep.
    static func cpuShare(of pids: [Int32?], over duration: Duration) async throws -> [Double] {
        let meter = CPUMeter(processes: pids)
        let before = meter.seconds()
        let clock = ContinuousClock()
        let start = clock.now
        try await Task.sleep(for: duration)
        let elapsed = (clock.now - start).milliseconds / 1000
        return zip(meter.seconds(), before).map { ($0 - $1) / elapsed * 100 }
    }
}

/// Raises this process's open-file limit (soft and hard) as far as the kernel allows
/// (`/proc/sys/fs/nr_open`, raising the hard limit needs root); server processes spawned
/// afterwards inherit it.
enum FileDescriptorLimit {
    /// The soft limit in effect afterwards.
    @discardableResult
    static func raise(to wanted: Int = 1 << 20) -> Int {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        let ceiling = (try? String(contentsOfFile: "/proc/sys/fs/nr_open", encoding: .utf8))
            .flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? Int(limit.rlim_max)
        let target = rlim_t(min(wanted, ceiling))
        var raised = rlimit(rlim_cur: max(limit.rlim_cur, target), rlim_max: max(limit.rlim_max, target))
        if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) != 0 {
            // Not root: as far as the hard limit goes.
            raised = rlimit(rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max)
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised)
        }
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        return Int(limit.rlim_cur)
    }
}

/// The peak resident memory of each server, sampled every `interval` until stopped.
final class PeakMemorySampler: @unchecked Sendable {
    // @unchecked: `peaks` is only touched under `lock`.
    private let lock = NSLock()
    private var peaks: [String: Int] = [:]
    private var anonymousPeaks: [String: Int] = [:]
    private var task: Task<Void, Never>?

    /// Starts sampling `processes` (name → current pid, re-read each time, so restarts are followed).
    func start(every interval: Duration = .milliseconds(500), _ processes: @escaping @Sendable () -> [(String, Int32?)]) {
        task = Task {
            while !Task.isCancelled {
                for (name, pid) in processes() {
                    guard let rss = ProcessStats.residentKiB(pid) else { continue }
                    let anonymous = ProcessStats.anonymousKiB(pid) ?? 0
                    self.lock.withLock {
                        self.peaks[name] = max(self.peaks[name] ?? 0, rss)
                        self.anonymousPeaks[name] = max(self.anonymousPeaks[name] ?? 0, anonymous)
                    }
                }
                try? await Task.sleep(for: interval)
            }
        }
    }

    func stop() { task?.cancel() }

    /// Peak RSS in KiB by process name.
    var peakKiB: [String: Int] { lock.withLock { peaks } }
    /// Peak anonymous RSS (without LMDB's mapped file pages) in KiB by process name.
    var peakAnonymousKiB: [String: Int] { lock.withLock { anonymousPeaks } }
}
