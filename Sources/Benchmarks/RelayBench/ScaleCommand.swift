import ArgumentParser
import ClusterHarness
import Foundation
import P2PCore

/// `p2pcore-bench scale`: N simulated clients (``SimulatedClients``) on 3 real servers, for each
/// N of `--clients`: the attach time from a cold start, the reconnect storm after `kill -9` and
/// a restart of one server, each server's memory per attached client and idle CPU, and relayed
/// throughput at a steady rate.
struct ScaleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scale",
        abstract: "Measures 3 servers as the number of attached clients grows.",
        discussion: """
            Each simulated client has its own key pair and id, connects from its own loopback \
            address (127.a.b.c) to --maximum-attached-servers of the 3 servers (chosen and \
            failed over as by the real client), registers and attaches with the real client \
            protocol, checks the cluster key, subscribes to one server, acknowledges and \
            deduplicates pushed messages, and observes its UDP mapping on a UDP socket of its \
            own, at the real client's pace (--observation schedule: 1 s until answered, 5 s, \
            doubling to 30 s while stable) or every 5 s (--observation flat); --no-udp turns \
            that off. They share this process and its event \
            loops, in worker processes of --clients-per-worker clients each (4 descriptors \
            per client). The servers raise their own open-file soft limit to the hard limit.
            """
    )

    @Option(help: "Numbers of clients, comma-separated (one fresh cluster each).")
    var clients: String = "1000,5000,10000"

    @Option(help: "Relayed sends per second, in all, for the throughput phase (0: skip it).")
    var rate: Double = 2000

    @Option(help: "Seconds of the throughput phase.")
    var sendSeconds: Int = 10

    @Option(help: "Seconds of idle over which the servers' CPU is measured.")
    var idleSeconds: Int = 20

    @Option(help: "Seconds to wait for all clients to attach (cold start, and again after the restart).")
    var attachTimeout: Int = 180

    @Option(help: "Which server is killed (kill -9) and restarted: follower or leader.")
    var restart: RestartTarget = .follower

    @Option(help: "Payload size of the relayed messages in bytes.")
    var size: Int = 256

    @Option(help: "Simulated clients per worker process (each takes 3 TCP links and a UDP socket against the open-file limit).")
    var clientsPerWorker: Int = 4000

    @Flag(help: "No UDP observation (only the TCP links).")
    var noUdp = false

    @Option(help: "UDP observation pace: schedule (the real client's MappingSchedule) or flat (every 5 s, an upper bound).")
    var observation: ObservationPace = .schedule

    @Option(help: "Servers each client attaches to at most (ClientConfiguration.maximumAttachedServers), of the 3.")
    var maximumAttachedServers: Int = 3

    @Option(help: "Seconds to wait after all clients attached before the idle window (lets the observation pace settle).")
    var settleSeconds: Int = 5

    enum ObservationPace: String, ExpressibleByArgument, Sendable { case schedule, flat }

    @Flag(help: "Print each server's pid and wait for Enter before the idle phase (to attach perf or strace).")
    var pauseForProfiling = false

    @Option(help: "The p2pcore-server binary (default: the one built beside this program).")
    var server: String?

    enum RestartTarget: String, ExpressibleByArgument, Sendable { case follower, leader }

    var counts: [Int] {
        clients.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }.filter { $0 > 0 }
    }

    func validate() throws {
        guard !counts.isEmpty else { throw ValidationError("--clients needs at least one positive number") }
        guard clientsPerWorker > 0, rate >= 0, sendSeconds > 0, idleSeconds > 0, attachTimeout > 0, size >= 0, settleSeconds >= 0,
              (1...3).contains(maximumAttachedServers)
        else {
            throw ValidationError("rates, sizes and durations must not be negative")
        }
    }

    func run() async throws {
        BenchCommand.bootstrapLogging()
        let limit = FileDescriptorLimit.raise()
        print("p2pcore bench scale: 3 servers on loopback, simulated clients in worker processes (open-file limit \(limit) each)")
        let pace = observation == .flat ? "every 5 s" : "the real client's schedule (1 s until answered, 5 s, doubling to 30 s while stable)"
        print("UDP observation: \(noUdp ? "off" : "on, one socket per client, \(pace), to each attached server")")
        print("each client attaches to \(maximumAttachedServers) of the 3 servers (rendezvous ranking, as the real client)")
        print("restarted server: the \(restart.rawValue)")
        var results: [ScaleRun.Result] = []
        for count in counts {
            print("")
            print("== \(count) clients")
            let run = ScaleRun(
                clients: count, rate: rate, sendSeconds: sendSeconds, idleSeconds: idleSeconds, attachTimeout: .seconds(attachTimeout),
                restartLeader: restart == .leader, payloadSize: size, observeUDP: !noUdp, flatObservation: observation == .flat,
                maximumAttachedServers: maximumAttachedServers, settleSeconds: settleSeconds, pauseForProfiling: pauseForProfiling,
                clientsPerWorker: clientsPerWorker,
                binary: server ?? LocalCluster.siblingBinary
            )
            let result = try await run.run()
            results.append(result)
            ScaleReport.printDetail(result)
        }
        print("")
        ScaleReport.printSummary(results)
    }
}
