import ArgumentParser
import ClusterHarness
import Foundation

/// `p2pcore-bench queued`: a million messages queued for offline recipients on 3 real servers;
/// then how a restart, a new server and the recipients' return cope with them.
struct QueuedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queued",
        abstract: "Measures 3 servers holding many queued messages: restart, adding a server, draining.",
        discussion: """
            Fill: --recipients simulated clients register and go offline; --senders simulated \
            clients pipeline --messages relay sends (--window in flight each, one server link \
            each) and wait only for "stored" (committed on a quorum). Then: (a) kill -9 a \
            follower and restart it: time until a fresh client is welcomed by it and a send \
            through it commits (and /readyz is 200, with --monitor); (b) a new server joins \
            while senders send --rate messages/s: time until it votes (caught up), and the \
            latency of those sends; (c) the recipients come back: time until every stored \
            message is delivered (in-memory ledgers: FIFO per sender, duplicates acknowledged, \
            not delivered); (d) every server's RSS, sampled every 500 ms (peak). Every step has \
            a deadline and reports a failure instead of hanging.
            """
    )

    @Option(help: "Offline recipients.") var recipients: Int = 1000
    @Option(help: "Messages queued in all.") var messages: Int = 1_000_000
    @Option(help: "Payload size in bytes.") var size: Int = 256
    @Option(help: "Simulated senders that fill the mailboxes.") var senders: Int = 48
    @Option(help: "Sends in flight per sender during the fill.") var window: Int = 128
    @Option(help: "Sends per second while the new server joins.") var rate: Double = 200
    @Option(help: "Seconds any step may take (fill, restart, drain) before it is reported as failed.") var timeout: Int = 900
    @Option(help: "Seconds the new server may take to catch up.") var catchUpTimeout: Int = 180
    @Flag(inversion: .prefixedNo, help: "Start the servers with --monitor (so that /readyz is measured after the restart).")
    var monitor = true
    @Flag(inversion: .prefixedNo, help: "Add a new server while sending (step b).") var addServer = true
    @Option(help: "The p2pcore-server binary (default: the one built beside this program).") var server: String?
    @Option(help: ArgumentHelp(
        "Run each server in a memory cgroup of its own with this hard limit in MiB, page cache included (needs root and a memory cgroup controller).",
        valueName: "MiB"
    ))
    var memoryLimit: Int?

    /// Settings of one run.
    struct Settings: Sendable {
        var recipients, messages, size, senders, window: Int
        var rate: Double
        var timeout, catchUpTimeout: Duration
        var monitor, addServer: Bool
        var binary: String
        var memoryLimitMiB: Int?
    }

    /// A step that could not be done at all.
    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    func validate() throws {
        guard recipients > 0, messages > 0, (memoryLimit ?? 1) > 0, senders > 0, window > 0, size >= 0, rate > 0, timeout > 0, catchUpTimeout > 0 else {
            throw ValidationError("counts, rates and timeouts must be positive")
        }
    }

    func run() async throws {
        BenchCommand.bootstrapLogging()
        let limit = FileDescriptorLimit.raise()
        print("p2pcore bench queued: 3 servers on loopback, \(messages) messages of \(size) bytes for \(recipients) offline recipients (open-file limit \(limit))")
        let settings = Settings(
            recipients: recipients, messages: messages, size: size, senders: senders, window: window, rate: rate,
            timeout: .seconds(timeout), catchUpTimeout: .seconds(catchUpTimeout), monitor: monitor, addServer: addServer,
            binary: server ?? LocalCluster.siblingBinary, memoryLimitMiB: memoryLimit
        )
        let result = try await QueuedRun(options: settings).run()
        Self.printSummary(result, settings)
    }

    static func printSummary(_ result: QueuedRun.Result, _ settings: Settings) {
        func seconds(_ duration: Duration?) -> String { ScaleRun.seconds(duration) }
        print("")
        print("summary: \(settings.messages) × \(settings.size) B for \(settings.recipients) offline recipients")
        if let fill = result.fill {
            print(String(format: "fill                         %.1f s (%.0f msgs/s), %d stored, %d refused", fill.elapsed.milliseconds / 1000,
                         Double(fill.stored) / max(fill.elapsed.milliseconds / 1000, 0.001), fill.stored, fill.refused)
                  + (fill.timedOut ? ", TIMED OUT" : ""))
        }
        if !result.restarted.isEmpty {
            print("restart \(result.restarted): welcomed      \(seconds(result.restartWelcome))")
            print("restart \(result.restarted): send commit   \(seconds(result.restartCommit))")
            if settings.monitor { print("restart \(result.restarted): /readyz 200   \(seconds(result.restartReady))") }
        }
        if !result.added.isEmpty {
            print("join \(result.added): caught up (votes) \(seconds(result.addCaughtUp))" + (result.addProblem.map { " — FAILED: \($0)" } ?? ""))
            if let sends = result.concurrent {
                print(String(format: "join: concurrent sends        %d stored, %d failed, p50 %.1f ms, p99 %.1f ms",
                             sends.storedOnly + sends.delivered, sends.failed, sends.percentile(0.5), sends.percentile(0.99)))
            }
        }
        print("drain                        \(seconds(result.drain)) (\(result.drained) of \(result.drainExpected) delivered)")
        if let limit = settings.memoryLimitMiB {
            print("memory cgroup limit          \(limit) MiB per server; peak charged " + result.peakCharged.sorted { $0.key < $1.key }.map {
                "\($0.key) \($0.value >> 20) MiB"
            }.joined(separator: ", "))
        }
        print("peak RSS (anonymous)         " + result.peakRSS.sorted { $0.key < $1.key }.map {
            "\($0.key) \($0.value / 1024) (\((result.peakAnonymousRSS[$0.key] ?? 0) / 1024)) MiB"
        }.joined(separator: ", "))
    }
}
