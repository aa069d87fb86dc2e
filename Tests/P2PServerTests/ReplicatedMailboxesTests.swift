import Foundation
import LMDB
import Mailbox
import MessageModel
import P2PCore
import Raft
import Synchronization
import Testing
import TestSupport
@testable import P2PServer

/// Messages in flight on the in-memory network: Raft messages, and snapshot streams.
final class MessageQueue: Sendable {
    typealias Transfer = (from: NodeID, to: NodeID, transfer: SnapshotTransfer)
    private let messages = Mutex<(raft: [RaftMessage], transfers: [Transfer])>(([], []))

    func append(_ message: RaftMessage) { messages.withLock { $0.raft.append(message) } }
    func append(_ transfer: Transfer) { messages.withLock { $0.transfers.append(transfer) } }

    /// Takes the Raft messages addressed to `id`, leaving the rest.
    func take(to id: NodeID) -> [RaftMessage] {
        messages.withLock { queue in
            let taken = queue.raft.filter { $0.to == id }
            queue.raft.removeAll { $0.to == id }
            return taken
        }
    }

    /// The Raft messages `id` sent that are still in flight.
    func sent(by id: NodeID) -> [RaftMessage] {
        messages.withLock { $0.raft.filter { $0.from == id } }
    }

    func takeAll() -> (raft: [RaftMessage], transfers: [Transfer]) {
        messages.withLock { queue in
            defer { queue = ([], []) }
            return queue
        }
    }
}

/// Three replicas in one process, connected by an in-memory network that the test pumps.
final class InMemoryCluster: Sendable {
    let ids: [NodeID]
    let paths: [String]
    private let queue = MessageQueue()
    private let replicas = Mutex<[NodeID: ReplicatedMailboxes]>([:])
    /// Replicas cut off from the others: messages to and from them are dropped.
    private let isolated = Mutex<Set<NodeID>>([])

    let compactEvery: UInt64
    let chunkBytes: Int
    /// Snapshot chunks delivered (to see that a snapshot was streamed in several).
    let chunksDelivered = Mutex(0)

    init(size: Int, compactEvery: UInt64 = 50, chunkBytes: Int = 1 << 20) throws {
        self.compactEvery = compactEvery
        self.chunkBytes = chunkBytes
        ids = (0..<size).map { _ in NodeID.random() }
        paths = ids.map { FileManager.default.temporaryDirectory.appendingPathComponent("p2pcore-replica-\($0)").path }
        for index in ids.indices { try start(index) }
    }

    deinit {
        for path in paths { try? FileManager.default.removeItem(atPath: path) }
    }

    /// (Re)starts replica `index` from its LMDB directory.
    func start(_ index: Int) throws {
        var configuration = RaftConfiguration(id: ids[index], randomSeed: UInt64(index + 1) &* 7919)
        configuration.electionTicks = 10
        var environmentConfiguration = Environment.Configuration()
        environmentConfiguration.syncOnCommit = false
        let environment = try Environment(path: paths[index], configuration: environmentConfiguration)
        let replica = try ReplicatedMailboxes(
            configuration: configuration, environment: environment, bootstrapVoters: Set(ids), compactEvery: compactEvery,
            snapshotChunkBytes: chunkBytes, snapshotStallTimeout: .seconds(1),
            send: { [queue] message in queue.append(message) },
            sendTransfer: { [queue, id = ids[index]] peer, transfer in queue.append((id, peer, transfer)) }
        )
        replicas.withLock { $0[ids[index]] = replica }
    }

    /// Stops replica `index` and closes its LMDB environment, as a server that stops does: LMDB
    /// must not have one environment open twice in a process (a restart opens it again).
    func stop(_ index: Int) async {
        guard let replica = replicas.withLock({ $0.removeValue(forKey: ids[index]) }) else { return }
        await replica.stop()
        let environment = await replica.environment
        environment.close()
    }

    /// Takes the Raft messages in flight to `id` (to hand them over by hand).
    func take(to id: NodeID) -> [RaftMessage] { queue.take(to: id) }
    /// The Raft messages in flight from `id`.
    func sent(by id: NodeID) -> [RaftMessage] { queue.sent(by: id) }

    func isolate(_ id: NodeID) { _ = isolated.withLock { $0.insert(id) } }
    func heal(_ id: NodeID) { _ = isolated.withLock { $0.remove(id) } }

    func replica(_ id: NodeID) -> ReplicatedMailboxes? { replicas.withLock { $0[id] } }
    var running: [ReplicatedMailboxes] { replicas.withLock { Array($0.values) } }

    /// One round: every replica ticks, then every message is delivered until none are left.
    func pump() async throws {
        for replica in running { try await replica.start(); try await replica.tick() }
        while true {
            let batch = queue.takeAll()
            if batch.raft.isEmpty && batch.transfers.isEmpty { return }
            let cut = isolated.withLock { $0 }
            for message in batch.raft where !cut.contains(message.to) && !cut.contains(message.from) {
                replica(message.to)?.receive(message)
            }
            for (from, to, transfer) in batch.transfers where !cut.contains(to) && !cut.contains(from) {
                if case .chunk = transfer { chunksDelivered.withLock { $0 += 1 } }
                replica(to)?.receive(transfer, from: from)
            }
            for replica in running { await replica.drainNow() }
        }
    }

    func leader() async -> ReplicatedMailboxes? {
        for replica in running where await replica.role == .leader { return replica }
        return nil
    }

    /// Pumps until `condition` holds; gives up after `rounds` rounds once `patience` has also
    /// passed. Some work runs off the pump (a snapshot's chunks are read by a task of their own):
    /// on a loaded machine it can take longer than the rounds, which then go on, a few a
    /// millisecond apart, until the patience runs out.
    func pump(until condition: () async throws -> Bool, rounds: Int = 500, patience: Duration = .seconds(60)) async throws -> Bool {
        let deadline = ContinuousClock.now + patience
        var round = 0
        while round < rounds || ContinuousClock.now < deadline {
            if try await condition() { return true }
            try await pump()
            round += 1
            if round >= rounds { try await Task.sleep(for: .milliseconds(2)) }
        }
        return try await condition()
    }
}

@Suite struct ReplicatedMailboxesTests {
    let alice = NodeID.random()
    let bob = NodeID.random()

    @Test func concurrentProposalsCommitOnEveryReplicaWithIdenticalState() async throws {
        let cluster = try InMemoryCluster(size: 3)
        #expect(try await cluster.pump(until: { await cluster.leader() != nil }))
        let leader = try #require(await cluster.leader())

        let registered = try await proposeAll(leader, [
            .register(ClientRecord(id: alice, publicKey: [1])), .register(ClientRecord(id: bob, publicKey: [2])),
        ], cluster)
        #expect(registered == [.done, .done])

        let enqueues = (UInt64(1)...120).map { sequence in
            MailboxCommand.enqueue(MailMessage(id: MessageID(sender: alice, sequence: sequence), recipient: bob, payload: [UInt8(sequence % 256)], enqueuedAtMillis: sequence))
        }
        let stored = try await proposeAll(leader, enqueues, cluster)
        #expect(stored.count == 120)
        #expect(stored.allSatisfy { $0 == .stored })

        #expect(try await cluster.pump(until: {
            var digests: Set<String> = []
            for replica in cluster.running { digests.insert(try await replica.mailboxes.digest().digest) }
            return digests.count == 1
        }))
        #expect(try await leader.mailboxes.stats(for: bob).messages == 120)
        // compactEvery: 50 — the log was compacted along the way. Concurrent proposals commit in
        // whatever order they reached the leader, so only the set is defined.
        #expect(try await leader.mailboxes.messages(for: bob, limit: 500).map(\.message.id.sequence).sorted() == Array(1...120))
    }

    /// A follower's ready loop steps what arrives while it runs (no drain task is scheduled for
    /// it then): a message that lands just as the loop finds nothing left to do must still be
    /// stepped, with no other message or tick to wake the replica.
    @Test func aMessageLandingAsTheReadyLoopEndsIsStillStepped() async throws {
        let cluster = try InMemoryCluster(size: 3)
        #expect(try await cluster.pump(until: { await cluster.leader() != nil }))
        let leader = try #require(await cluster.leader())
        var followers: [ReplicatedMailboxes] = []
        for replica in cluster.running where await replica.role != .leader { followers.append(replica) }
        let follower = try #require(followers.first)
        _ = try await proposeAll(leader, [.register(ClientRecord(id: alice, publicKey: [1]))], cluster)
        for round in UInt64(1)...5 {
            // Two proposals, one after the other: the leader's append of each, held back.
            var appends: [(message: RaftMessage, last: LogIndex)] = []
            var proposals: [Task<MailboxOutcome, any Error>] = []
            for offset in UInt64(0)..<2 {
                let message = MailMessage(id: MessageID(sender: alice, sequence: round * 2 + offset), recipient: alice, payload: [1], enqueuedAtMillis: 1)
                proposals.append(Task { try await leader.propose(.enqueue(message)) })
                var append: (message: RaftMessage, last: LogIndex)?
                #expect(try await eventually(timeout: .seconds(10), every: .milliseconds(1)) {
                    for message in cluster.take(to: follower.id) {
                        if case .appendEntries(_, _, let entries, _) = message.body, let last = entries.last { append = (message, last.index) }
                    }
                    return append != nil
                })
                appends.append(try #require(append))
            }
            // The second lands exactly when the loop that the first started finds nothing to do.
            let landed = Mutex(false)
            let second = appends[1].message
            await follower.setLoopIdleHook { [follower] in
                let first = landed.withLock { done in
                    defer { done = true }
                    return !done
                }
                if first { follower.receive(second) }
            }
            follower.receive(appends[0].message)
            // No pumping: the follower alone must get to acknowledging the second entry (its
            // outgoing messages are the only sign of it, hence the polling).
            let acknowledged = try await eventually(timeout: .seconds(10), every: .milliseconds(1)) {
                cluster.sent(by: follower.id).contains {
                    if case .appendResponse(false, let index, _, _) = $0.body { index >= appends[1].last } else { false }
                }
            }
            await follower.setLoopIdleHook(nil)
            #expect(landed.withLock { $0 })
            #expect(acknowledged, "round \(round): the follower never acknowledged entry \(appends[1].last)")
            #expect(try await cluster.pump(until: { await leader.appliedIndex >= appends[1].last }))
            for proposal in proposals { _ = try? await proposal.value }
        }
    }

    @Test func aFollowersProposalIsForwardedByRaftAndAnsweredWhenApplied() async throws {
        let cluster = try InMemoryCluster(size: 3)
        #expect(try await cluster.pump(until: { await cluster.leader() != nil }))
        let leader = try #require(await cluster.leader())
        var follower: ReplicatedMailboxes?
        for replica in cluster.running where await replica.role != .leader { follower = replica }
        let chosen = try #require(follower)
        let outcome = try await proposeAndPump(chosen, .register(ClientRecord(id: alice, publicKey: [1])), cluster)
        #expect(outcome == .done)
        #expect(try await leader.mailboxes.client(alice)?.publicKey == [1])
        #expect(try await chosen.mailboxes.client(alice)?.publicKey == [1])
    }

    @Test func aReadyWithNothingToWriteSendsWithoutWaitingForTheStorageQueue() async throws {
        let cluster = try InMemoryCluster(size: 3)
        #expect(try await cluster.pump(until: { await cluster.leader() != nil }))
        var follower: ReplicatedMailboxes?
        for replica in cluster.running where await replica.role != .leader { follower = replica }
        let chosen = try #require(follower)
        // The follower's storage queue is busy (a long sync): a ready that writes nothing must
        // not queue behind it.
        let release = DispatchSemaphore(value: 0)
        await chosen.storage.enqueue { release.wait() }
        let proposal = Task { try await chosen.propose(.register(ClientRecord(id: alice, publicKey: [1]))) }
        let forwarded = try await eventually(timeout: .seconds(10), every: .milliseconds(1)) {
            cluster.sent(by: chosen.id).contains { if case .propose = $0.body { true } else { false } }
        }
        release.signal()
        #expect(forwarded, "the proposal was forwarded only once the storage queue was free")
        let pumping = Task { while !Task.isCancelled { try await cluster.pump(); await Task.yield() } }
        defer { pumping.cancel() }
        #expect(try await proposal.value == .done)
    }

    @Test func aFollowersReadIndexCoversEverythingCommittedBefore() async throws {
        let cluster = try InMemoryCluster(size: 3)
        #expect(try await cluster.pump(until: { await cluster.leader() != nil }))
        let leader = try #require(await cluster.leader())
        _ = try await proposeAndPump(leader, .register(ClientRecord(id: bob, publicKey: [2])), cluster)
        var follower: ReplicatedMailboxes?
        for replica in cluster.running where await replica.role != .leader { follower = replica }
        let chosen = try #require(follower)
        let committed = await leader.commitIndex
        let reading = Task { try await chosen.readIndex() }
        let pumping = Task { while !Task.isCancelled { try await cluster.pump(); await Task.yield() } }
        let index = try await reading.value
        #expect(index >= committed)
        // The apply notifier resumes the waiter as soon as the replica gets there.
        #expect(await chosen.waitUntilApplied(index, deadline: .now + .seconds(10)))
        pumping.cancel()
        _ = await pumping.result
        #expect(await chosen.appliedIndex >= index)
        // An index nobody will reach in time: the waiter gives up at its deadline.
        #expect(await chosen.waitUntilApplied(index + 1_000, deadline: .now + .milliseconds(50)) == false)
    }

    @Test func aRestartedReplicaRecoversFromItsOwnLMDBAndCatchesUp() async throws {
        let cluster = try InMemoryCluster(size: 3)
        #expect(try await cluster.pump(until: { await cluster.leader() != nil }))
        var leader = try #require(await cluster.leader())
        _ = try await proposeAndPump(leader, .register(ClientRecord(id: bob, publicKey: [2])), cluster)

        let victim = try #require(cluster.ids.firstIndex { $0 != leader.id })
        await cluster.stop(victim)
        for sequence in UInt64(1)...80 {
            leader = try #require(await cluster.leader())
            let message = MailMessage(id: MessageID(sender: alice, sequence: sequence), recipient: bob, payload: [1], enqueuedAtMillis: 0)
            #expect(try await proposeAndPump(leader, .enqueue(message), cluster) == .stored)
        }
        try cluster.start(victim)
        let restarted = try #require(cluster.replica(cluster.ids[victim]))
        #expect(try await cluster.pump(until: {
            try await restarted.mailboxes.digest().digest == leader.mailboxes.digest().digest
        }))
        #expect(try await restarted.mailboxes.stats(for: bob).messages == 80)
    }

    @Test func aFollowerBehindTheCompactedLogGetsTheStateStreamedInChunksWhileProposalsContinue() async throws {
        let cluster = try InMemoryCluster(size: 3, compactEvery: 20, chunkBytes: 2048)
        #expect(try await cluster.pump(until: { await cluster.leader() != nil }))
        var leader = try #require(await cluster.leader())
        _ = try await proposeAll(leader, [.register(ClientRecord(id: alice, publicKey: [1])), .register(ClientRecord(id: bob, publicKey: [2]))], cluster)

        let lagging = try #require(cluster.ids.first { $0 != leader.id })
        cluster.isolate(lagging)
        let payload = [UInt8](repeating: 42, count: 200)
        for batch in 0..<6 {
            leader = try #require(await cluster.leader())
            let enqueues = (UInt64(1)...40).map { sequence in
                MailboxCommand.enqueue(MailMessage(id: MessageID(sender: alice, sequence: UInt64(batch) * 40 + sequence), recipient: bob, payload: payload, enqueuedAtMillis: 0))
            }
            _ = try await proposeAll(leader, enqueues, cluster)
        }
        let compactedThrough = try await leader.compact()
        #expect(compactedThrough > 100)

        cluster.heal(lagging)
        // Sends go on while the follower catches up.
        let more = (UInt64(241)...260).map { sequence in
            MailboxCommand.enqueue(MailMessage(id: MessageID(sender: alice, sequence: sequence), recipient: bob, payload: payload, enqueuedAtMillis: 0))
        }
        let stored = try await proposeAll(leader, more, cluster)
        #expect(stored.allSatisfy { $0 == .stored })
        let follower = try #require(cluster.replica(lagging))
        #expect(try await cluster.pump(until: {
            try await follower.mailboxes.digest().digest == leader.mailboxes.digest().digest
        }))
        #expect(try await follower.mailboxes.stats(for: bob).messages == 260)
        // 260 messages of 200 bytes and their index: many chunks of 2 KiB.
        #expect(cluster.chunksDelivered.withLock { $0 } > 20)
    }

    /// Proposes every command concurrently (so they batch) while the network is pumped.
    private func proposeAll(_ replica: ReplicatedMailboxes, _ commands: [MailboxCommand], _ cluster: InMemoryCluster) async throws -> [MailboxOutcome] {
        let pumping = Task { while !Task.isCancelled { try await cluster.pump(); await Task.yield() } }
        do {
            let results = try await withThrowingTaskGroup(of: MailboxOutcome.self) { group in
                for command in commands { group.addTask { try await replica.propose(command) } }
                var results: [MailboxOutcome] = []
                for try await outcome in group { results.append(outcome) }
                return results
            }
            // The pump finishes its round: nothing moves once this returns.
            pumping.cancel()
            _ = await pumping.result
            return results
        } catch {
            pumping.cancel()
            _ = await pumping.result
            throw error
        }
    }

    private func proposeAndPump(_ replica: ReplicatedMailboxes, _ command: MailboxCommand, _ cluster: InMemoryCluster) async throws -> MailboxOutcome {
        let task = Task { try await replica.propose(command) }
        let pumping = Task { while !Task.isCancelled { try await cluster.pump(); await Task.yield() } }
        defer { pumping.cancel() }
        return try await task.value
    }
}
