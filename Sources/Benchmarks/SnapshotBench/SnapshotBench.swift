import ArgumentParser
import Foundation
import LMDB
import Mailbox
import MessageModel
import P2PCore
import Raft
import Synchronization
import P2PServer

/// Streamed Raft snapshots at scale: fills a one-server replica with queued messages, times its
/// restart, then adds a second replica (in this process, wired in memory) that gets the whole
/// state streamed while the first keeps committing; reports times and memory.
@main
struct SnapshotBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot-bench",
        abstract: "Restart time and snapshot streaming of a replica holding many queued messages.",
        discussion: "Example: swift run -c release snapshot-bench --messages 1000000 --directory /var/tmp"
    )

    @Option(help: "Queued messages to fill the replica with.")
    var messages = 1_000_000
    @Option(help: "Payload bytes per message.")
    var payload = 256
    @Option(help: "Messages per proposal while filling.")
    var batch = 1_000
    @Option(help: "Parent directory for the data (a real disk).")
    var directory = FileManager.default.temporaryDirectory.path
    @Flag(help: "Keep the data directory (and reuse one that is already filled).")
    var keep = false

    func run() async throws {
        let root = directory + "/snapshot-bench"
        if !keep { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let leaderID = try identity(root + "/leader.id"), followerID = NodeID.random()
        let network = Network()

        // 1. Fill (unless kept from an earlier run).
        var (leader, environment) = try Self.open(root + "/leader", leaderID, voters: [leaderID], network)
        try await leader.start()
        try await Self.elect(leader)
        let present = try await leader.mailboxes.applied().index
        if present < 10 {
            let start = ContinuousClock.now
            // 100 mailboxes of 10 senders × 1,000 messages each: within the default limits.
            let recipients = (0..<100).map { _ in NodeID.random() }, senders = (0..<10).map { _ in NodeID.random() }
            _ = try await leader.propose(.batch(recipients.map { .register(ClientRecord(id: $0, publicKey: [1])) }))
            let body = [UInt8](repeating: 0x5A, count: payload)
            var stored = 0
            var next = 0
            while next < messages {
                let range = next..<min(next + batch, messages)
                let commands = range.map { i in
                    MailboxCommand.enqueue(MailMessage(
                        id: MessageID(sender: senders[(i % 1000) / 100], sequence: UInt64(i / 1000 + 1)), recipient: recipients[i % 100],
                        payload: body, enqueuedAtMillis: 0
                    ))
                }
                if case .batch(let outcomes) = try await leader.propose(.batch(commands)) { stored += outcomes.filter { $0 == .stored }.count }
                next = range.upperBound
            }
            print("stored \(stored) of \(messages)")
            print("filled \(messages) messages of \(payload) B in \(ContinuousClock.now - start); \(Memory.now())")
        }
        let size = try environment.info().usedBytes
        print("state: applied index \(await leader.appliedIndex), LMDB used \(size >> 20) MiB")

        // 2. Restart: a new replica on the same directory, until it serves (leader, caught up).
        await leader.stop()
        environment.close()
        let restartStart = ContinuousClock.now
        (leader, environment) = try Self.open(root + "/leader", leaderID, voters: nil, network)
        try await leader.start()
        let opened = ContinuousClock.now - restartStart
        try await Self.elect(leader)
        print("restart: replica open \(opened), serving (leader, one voter) after \(ContinuousClock.now - restartStart); \(Memory.now())")
        Memory.resetPeak()

        // 3. A new server joins: the state is streamed to it while the leader keeps committing.
        let (follower, _) = try Self.open(root + "/follower-\(UUID().uuidString)", followerID, voters: nil, network)
        try await follower.start()
        network.add(leader)
        network.add(follower)
        let sampler = Task { while !Task.isCancelled { Memory.sample(); try? await Task.sleep(for: .milliseconds(20)) } }
        let ticking = Task { while !Task.isCancelled { try? await leader.tick(); try? await follower.tick(); try? await Task.sleep(for: .milliseconds(100)) } }
        // Whatever the log holds, the newcomer needs a snapshot: the log starts after the applied index.
        let compacted = try await leader.compact()
        let joinStart = ContinuousClock.now
        try await leader.changeMembership(.addLearner(followerID))
        let committing = Task {
            var latencies: [Duration] = []
            var sequence: UInt64 = 10_000_000
            let sender = NodeID.random(), recipient = NodeID.random()
            _ = try? await leader.propose(.register(ClientRecord(id: recipient, publicKey: [2])))
            while !Task.isCancelled {
                sequence += 1
                let begin = ContinuousClock.now
                _ = try? await leader.propose(.enqueue(MailMessage(id: MessageID(sender: sender, sequence: sequence), recipient: recipient, payload: [1], enqueuedAtMillis: 0)))
                latencies.append(ContinuousClock.now - begin)
                try? await Task.sleep(for: .milliseconds(10))
            }
            return latencies
        }
        while true {
            let (applied, committed) = (await follower.appliedIndex, await leader.commitIndex)
            if applied > 0 && applied >= committed { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let joined = ContinuousClock.now - joinStart
        committing.cancel()
        let latencies = await committing.value.sorted()
        ticking.cancel()
        sampler.cancel()
        let peak = Memory.peak()
        print("join: log compacted through \(compacted); follower snapshot index \(await follower.snapshotIndex)")
        print("join: follower caught up (snapshot streamed + log) in \(joined); leader committed \(latencies.count) proposals meanwhile, latency p50 \(latencies[latencies.count / 2]) max \(latencies.last ?? .zero)")
        print("join: peak in this process (leader + follower): \(peak)")
        let digests = (try await leader.mailboxes.digest().digest, try await follower.mailboxes.digest().digest)
        print("digests equal: \(digests.0 == digests.1)")
        await follower.stop()
        await leader.stop()
    }

    private func identity(_ path: String) throws -> NodeID {
        if let bytes = FileManager.default.contents(atPath: path), let id = NodeID(bytes: Array(bytes)) { return id }
        let id = NodeID.random()
        _ = FileManager.default.createFile(atPath: path, contents: Data(id.bytes))
        return id
    }

    private static func open(_ path: String, _ id: NodeID, voters: Set<NodeID>?, _ network: Network) throws -> (ReplicatedMailboxes, Environment) {
        var configuration = RaftConfiguration(id: id, randomSeed: UInt64.random(in: 0...UInt64.max))
        configuration.electionTicks = 10
        configuration.leaderPersistsInParallel = true
        let environment = try Environment(path: path)
        let replica = try ReplicatedMailboxes(
            configuration: configuration, environment: environment, bootstrapVoters: voters,
            send: { message in network.deliver(message) },
            sendTransfer: { peer, transfer in network.deliver(transfer, from: id, to: peer) }
        )
        return (replica, environment)
    }

    /// Ticks until `replica` leads (a single voter elects itself).
    private static func elect(_ replica: ReplicatedMailboxes) async throws {
        while await replica.role != .leader {
            try await replica.tick()
            try await Task.sleep(for: .milliseconds(5))
        }
    }
}

/// Replicas of this process, wired in memory.
final class Network: Sendable {
    private let replicas = Mutex<[NodeID: ReplicatedMailboxes]>([:])

    func add(_ replica: ReplicatedMailboxes) { replicas.withLock { $0[replica.id] = replica } }
    func deliver(_ message: RaftMessage) { replicas.withLock { $0[message.to] }?.receive(message) }
    func deliver(_ transfer: SnapshotTransfer, from: NodeID, to: NodeID) { replicas.withLock { $0[to] }?.receive(transfer, from: from) }
}

/// This process's memory, from /proc/self/status.
enum Memory {
    private static let peaks = Mutex<(anon: Int, total: Int)>((0, 0))

    static func fields() -> [String: Int] {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return [:] }
        var result: [String: Int] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":")
            guard parts.count == 2, let kb = Int(parts[1].split(whereSeparator: \.isWhitespace).first ?? "") else { continue }
            result[String(parts[0])] = kb
        }
        return result
    }

    static func now() -> String {
        let f = fields()
        return "RSS \((f["VmRSS"] ?? 0) >> 10) MiB (anon \((f["RssAnon"] ?? 0) >> 10) MiB, file \((f["RssFile"] ?? 0) >> 10) MiB), peak VmHWM \((f["VmHWM"] ?? 0) >> 10) MiB"
    }

    static func sample() {
        let f = fields()
        peaks.withLock { $0 = (max($0.anon, f["RssAnon"] ?? 0), max($0.total, f["VmRSS"] ?? 0)) }
    }

    static func resetPeak() { peaks.withLock { $0 = (0, 0) } }

    static func peak() -> String {
        let p = peaks.withLock { $0 }
        return "RSS peak \(p.total >> 10) MiB, of which anonymous (heap) \(p.anon >> 10) MiB (the rest: LMDB's mapped file pages)"
    }
}
