import ArgumentParser
import ClusterHarness
import Delivery
import Foundation
import Logging
import P2PClient
import P2PCore

/// Send-until-acknowledged between two clients of 3 local servers — through the relay, over a
/// direct LAN link, or both — plus a raw SwiftNIO TCP ping-pong on loopback as the baseline for
/// the direct path: msgs/s and latency percentiles at several numbers of sends in flight.
/// The default subcommand of `p2pcore-bench` (``BenchCommand``).
struct RelayBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relay",
        abstract: "Measures sends between two clients (each returns once the recipient's application has the message).",
        discussion: """
            relay: every message goes through the servers (direct tunnels off).
            direct: the clients' direct LAN link on loopback, plus a raw SwiftNIO TCP ping-pong \
            on loopback as the baseline.
            all: both, with ratio tables direct / raw TCP and direct / relay.
            """
    )

    /// Which paths to measure.
    enum Mode: String, ExpressibleByArgument, CaseIterable, Sendable {
        case relay, direct, all

        var measuresRelay: Bool { self != .direct }
        var measuresDirect: Bool { self != .relay }
    }

    @Option(help: "What to measure: relay, direct (with the raw TCP baseline) or all.")
    var mode: Mode = .all

    @Flag(help: "Same as --mode direct: the direct path and the raw TCP ping-pong baseline.")
    var direct = false

    @Option(help: "Sends in flight, comma-separated.")
    var inFlight: String = "1,16,64,256"

    @Option(help: "Messages per level.")
    var messages: Int = 2000

    @Option(help: "Payload size in bytes.")
    var size: Int = 256

    @Option(help: "Seconds to wait for the direct LAN path before giving up.")
    var pathTimeout: Int = 15

    /// How the receiving application takes its messages.
    enum ReceiveAPI: String, ExpressibleByArgument, CaseIterable, Sendable {
        case single, batch, both

        var limits: [Int] {
            switch self {
            case .single: [1]
            case .batch: [RelayBench.batchLimit]
            case .both: [1, RelayBench.batchLimit]
            }
        }
    }

    /// The batch size of `receive(upTo:)` in the batch measurements.
    static let batchLimit = 256

    @Option(help: "The receiver's API: single (receive(), one sync per message), batch (receive(upTo: 256)) or both.")
    var receive: ReceiveAPI = .both

    @Option(help: "A file with a reference broker's end-to-end RESULT lines from the same session (Scripts/bench writes it when the NATS anchor is available): printed beside the relay, with ratios.")
    var anchorResults: String?

    @Option(help: "The p2pcore-server binary (default: the one built beside this program).")
    var server: String?

    func validate() throws {
        if direct, mode == .relay { throw ValidationError("--direct and --mode relay contradict each other") }
        guard messages > 0 else { throw ValidationError("--messages must be positive") }
        guard size >= 0 else { throw ValidationError("--size must not be negative") }
        guard pathTimeout > 0 else { throw ValidationError("--path-timeout must be positive") }
        guard !levels.isEmpty else { throw ValidationError("--in-flight needs at least one positive number") }
    }

    /// The in-flight levels, in the order given.
    private var levels: [Int] {
        inFlight.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }.filter { $0 > 0 }
    }

    /// The mode in effect (`--direct` wins over the default).
    private var effectiveMode: Mode { direct ? .direct : mode }

    func run() async throws {
        BenchCommand.bootstrapLogging()
        let mode = effectiveMode
        let payload = [UInt8](repeating: 0x5A, count: size)
        let monitorPorts = try await ServerProcess.freePorts(3)
        let cluster = try await LocalCluster.start(size: 3, binary: server ?? LocalCluster.siblingBinary) { index in
            index < monitorPorts.count ? ["--monitor", "127.0.0.1:\(monitorPorts[index])"] : []
        }
        defer { cluster.stop() }
        let pushCounters = { PushCounters.scrape(ports: monitorPorts, secret: cluster.secrets.admin) }
        let meter = CPUMeter(processes: cluster.servers.map(\.processID) + [nil])
        print("p2pcore bench: 3 servers on loopback (Raft, LMDB synced per batch), \(size)-byte messages, \(messages) per level")

        var relayResults: [LevelResult] = []
        var directResults: [LevelResult] = []
        var rawResults: [LevelResult] = []

        var relayBatchResults: [LevelResult] = []
        var directBatchResults: [LevelResult] = []
        if mode.measuresRelay {
            for limit in receive.limits {
                print("")
                print("relay: every message through the servers (direct tunnels off), receiver \(Self.describe(limit))")
                print(Report.header)
                let results = try await withClients(cluster, prefix: "relay\(limit)", directTunnels: false, receiveLimit: limit) { sender, receiver in
                    for _ in 0..<20 { try await sender.send(to: receiver.id, data: payload) }
                    return try await measureLevels(meter, counters: pushCounters) {
                        try await sender.send(to: receiver.id, data: payload, timeout: .seconds(60))
                    }
                }
                if limit == 1 { relayResults = results } else { relayBatchResults = results }
            }
        }

        if mode.measuresDirect {
            for limit in receive.limits {
                print("")
                let results = try await withClients(cluster, prefix: "direct\(limit)", directTunnels: true, receiveLimit: limit) { sender, receiver in
                    print("direct, receiver \(Self.describe(limit))")
                    return try await measureDirect(sender, receiver, payload: payload, meter: meter)
                }
                if limit == 1 { directResults = results } else { directBatchResults = results }
            }

            print("")
            print("raw TCP: SwiftNIO ping-pong on loopback, one connection, length-prefixed \(size)-byte messages echoed")
            print(Report.header)
            let raw = try await RawTCPPingPong.start()
            do {
                _ = try await raw.measure(level: 16, count: min(messages, 500), size: size)  // warm-up
                for level in levels {
                    let result = try await raw.measure(level: level, count: messages, size: size)
                    print(Report.row(result))
                    rawResults.append(result)
                }
                await raw.stop()
            } catch {
                await raw.stop()
                throw error
            }
        }

        if let anchor = anchorResults.flatMap(AnchorResults.read) {
            if !relayResults.isEmpty { anchor.printComparison("relay", relayResults) }
            if !relayBatchResults.isEmpty { anchor.printComparison("relay, batch receive", relayBatchResults) }
        } else if let anchorResults {
            print("")
            print("(no end-to-end anchor figures in \(anchorResults))")
        }
        if !relayBatchResults.isEmpty, !relayResults.isEmpty {
            Report.printRatio("relay batch", relayBatchResults, over: "relay", relayResults)
        }
        if !directBatchResults.isEmpty, !directResults.isEmpty {
            Report.printRatio("direct batch", directBatchResults, over: "direct", directResults)
        }
        if !directResults.isEmpty {
            Report.printRatio("direct", directResults, over: "raw TCP", rawResults)
            if relayResults.isEmpty {
                print("")
                print("(direct / relay needs the relay measured too: --mode all)")
            } else {
                Report.printRatio("direct", directResults, over: "relay", relayResults)
            }
        }
    }

    /// Runs every level with `send` as one request; prints each level's row as it completes,
    /// and under it the servers' pushes per message (`counters`).
    private func measureLevels(
        _ meter: CPUMeter, counters: () -> PushCounters?, _ send: @escaping @Sendable () async throws -> Void
    ) async throws -> [LevelResult] {
        var results: [LevelResult] = []
        for level in levels {
            let before = counters()
            let result = try await measureLevel(level, count: messages, meter: meter, send)
            print(Report.row(result))
            if let before, let after = counters() { print("  " + after.summary(since: before, messages: messages)) }
            results.append(result)
        }
        return results
    }

    /// Warms up until the sender has a LAN link to the receiver, then measures every level and
    /// checks after each one that the path is still that link.
    private func measureDirect(_ sender: P2PClient, _ receiver: P2PClient, payload: [UInt8], meter: CPUMeter) async throws -> [LevelResult] {
        let clock = ContinuousClock()
        let began = clock.now
        let deadline = began + .seconds(pathTimeout)
        var warmups = 0
        while await sender.directPaths()[receiver.id] != .lan {
            guard clock.now < deadline else {
                throw BenchError.noDirectPath(waited: pathTimeout, paths: await sender.directPaths()[receiver.id], warmups: warmups)
            }
            do {
                try await sender.send(to: receiver.id, data: payload, timeout: .seconds(5))
            } catch {
                throw BenchError.warmUpFailed(error)
            }
            warmups += 1
        }
        let waited = clock.now - began
        // A few more through the new link, so its buffers and the receiver's side are warm too.
        for _ in 0..<20 { try await sender.send(to: receiver.id, data: payload) }
        let receiverSide = await receiver.directPaths()[sender.id]
        print(
            "direct: measured path = \(DirectPathKind.lan.rawValue) (TCP link on loopback, sender → receiver; receiver → sender: "
                + "\(receiverSide?.rawValue ?? "none")), up after \(warmups) relayed warm-up messages, "
                + String(format: "%.0f ms", waited.milliseconds)
        )
        print(Report.header)
        let attemptTimeout = sender.configuration.attemptTimeout
        var results: [LevelResult] = []
        for level in levels {
            let result = try await measureLevel(level, count: messages, meter: meter) {
                try await sender.send(to: receiver.id, data: payload, timeout: .seconds(60))
            }
            print(Report.row(result))
            results.append(result)
            let path = await sender.directPaths()[receiver.id]
            if path != .lan {
                print("  warning: after \(level) in flight the sender's path to the receiver is \(path?.rawValue ?? "none"), not lan")
            }
            if result.max >= attemptTimeout {
                print(String(
                    format: "  warning: slowest send took %.0f ms, at least the %.0f ms direct attempt timeout (it fell back to the relay)",
                    result.max.milliseconds, attemptTimeout.milliseconds
                ))
            }
        }
        return results
    }

    /// Starts a sender and a receiver (the receiver's messages drained), runs `body`, then
    /// shuts both down whether it succeeded or not.
    private static func describe(_ limit: Int) -> String {
        limit == 1 ? "receive() (one ledger sync per message)" : "receive(upTo: \(limit)) (one ledger sync per batch)"
    }

    private func withClients(
        _ cluster: LocalCluster, prefix: String, directTunnels: Bool, receiveLimit: Int,
        _ body: (P2PClient, P2PClient) async throws -> [LevelResult]
    ) async throws -> [LevelResult] {
        func configuration(_ name: String) -> ClientConfiguration {
            var configuration = cluster.clientConfiguration("\(prefix)-\(name)")
            configuration.directTunnels = directTunnels
            if directTunnels { configuration.listenHost = "127.0.0.1" }
            return configuration
        }
        let sender = try await P2PClient.start(configuration("sender"))
        let receiver: P2PClient
        do {
            receiver = try await P2PClient.start(configuration("receiver"))
        } catch {
            await sender.shutdown()
            throw error
        }
        if !directTunnels { await Self.printTopology(cluster, receiver: receiver.id) }
        let draining = Task {
            if receiveLimit > 1 {
                for try await _ in receiver.receive(upTo: receiveLimit) {}
            } else {
                for try await _ in receiver.receive() {}
            }
        }
        func stopClients() async {
            draining.cancel()
            await sender.shutdown()
            await receiver.shutdown()
        }
        do {
            let results = try await body(sender, receiver)
            await stopClients()
            return results
        } catch {
            await stopClients()
            throw error
        }
    }
}

extension RelayBench {
    /// Which server leads and which is the receiver's home (the gateway its relayed mail is
    /// offered to first): one at a time, a run where they coincide skips a forward to the leader
    /// and a follower's apply on each message's way, so say which kind of run this is.
    static func printTopology(_ cluster: LocalCluster, receiver: NodeID) async {
        let servers = cluster.servers.compactMap { server in server.nodeID.flatMap { NodeID(uuidString: $0) }.map { (server.name, $0) } }
        let home = HomeServer.choose(for: receiver, among: servers.map(\.1))
        let leader = try? await cluster.agreedLeader(timeout: .seconds(10)).server.name
        let homeName = servers.first { $0.1 == home }?.0 ?? "?"
        print("topology: leader \(leader ?? "?"), the receiver's home \(homeName)\(leader == homeName ? " (the same)" : "")")
    }
}

/// Why a benchmark run stopped.
enum BenchError: Error, CustomStringConvertible {
    case noDirectPath(waited: Int, paths: DirectPathKind?, warmups: Int)
    case warmUpFailed(any Error)

    var description: String {
        switch self {
        case .noDirectPath(let waited, let path, let warmups):
            "no direct LAN path from sender to receiver after \(waited) s and \(warmups) warm-up messages "
                + "(sender's path to the receiver: \(path?.rawValue ?? "none"))"
        case .warmUpFailed(let error):
            "a warm-up send failed while waiting for the direct path: \(error)"
        }
    }
}
