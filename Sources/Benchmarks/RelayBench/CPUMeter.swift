import Foundation

/// CPU time (user + system) consumed by a set of processes, read from `/proc/<pid>/stat`: the
/// cost per message holds up better than throughput on a machine that is busy with other work.
struct CPUMeter: Sendable {
    /// The processes measured (`nil`: this process).
    let processes: [Int32?]

    /// Seconds of CPU the processes have used so far (0 for one that cannot be read, e.g. on a
    /// system without `/proc`).
    func seconds() -> [Double] {
        processes.map { pid in Self.cpuSeconds(of: pid.map { "\($0)" } ?? "self") }
    }

    /// Context switches so far of each process's threads, by thread id (voluntary and
    /// involuntary, from `/proc/<pid>/task/*/status`).
    func switches() -> [[String: Int]] {
        processes.map { pid in Self.switches(of: pid.map { "\($0)" } ?? "self") }
    }

    /// The switches made between two readings of ``switches()``: by the threads alive at the
    /// second (a thread that ended meanwhile takes its count with it, so a pool that retires idle
    /// threads makes this an undercount, never a negative figure).
    static func switches(from before: [[String: Int]], to after: [[String: Int]]) -> [Int] {
        zip(before, after).map { before, after in
            after.reduce(0) { total, thread in total + max(0, thread.value - (before[thread.key] ?? 0)) }
        }
    }

    private static func switches(of pid: String) -> [String: Int] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        var counts: [String: Int] = [:]
        for task in tasks {
            guard let status = try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/status", encoding: .utf8) else { continue }
            counts[task] = status.split(separator: "\n").reduce(0) { sum, line in
                guard line.contains("ctxt_switches:") else { return sum }
                return sum + (line.split(separator: "\t").last.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) } ?? 0)
            }
        }
        return counts
    }

    /// Write requests the machine's disks completed so far (`/sys/block/*/stat`, loop, RAM and
    /// zram devices left out): every process's, so only meaningful while the bench runs alone.
    static func diskWrites() -> Int { diskCount(field: 4) ?? 0 }

    /// Flush requests (cache flushes: what each `fdatasync` ends with) the machine's disks
    /// completed so far, counted like ``diskWrites()``; `nil` on kernels older than 5.5, which
    /// do not count them.
    static func diskFlushes() -> Int? { diskCount(field: 15) }

    /// The sum of one field of the disks' `stat` files; `nil` if no disk has that field.
    private static func diskCount(field: Int) -> Int? {
        let devices = (try? FileManager.default.contentsOfDirectory(atPath: "/sys/block")) ?? []
        let counts = devices.filter { !$0.hasPrefix("loop") && !$0.hasPrefix("ram") && !$0.hasPrefix("zram") }.compactMap { device -> Int? in
            guard let stat = try? String(contentsOfFile: "/sys/block/\(device)/stat", encoding: .utf8) else { return nil }
            let fields = stat.split(whereSeparator: \.isWhitespace)
            return fields.count > field ? Int(fields[field]) : nil
        }
        return counts.isEmpty ? nil : counts.reduce(0, +)
    }

    private static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    private static func cpuSeconds(of pid: String) -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let end = stat.lastIndex(of: ")")
        else { return 0 }
        // Fields after the command name: state is field 3, utime 14 and stime 15.
        let fields = stat[stat.index(after: end)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / ticksPerSecond
    }
}
