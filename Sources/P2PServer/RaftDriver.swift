import Foundation
import LMDB
import Logging
import Mailbox
import P2PCore
import Raft
import RaftStorage
import ServiceLifecycle
import Synchronization

/// The server's part in Raft: forms or joins the cluster, runs the replica
/// (``ReplicatedMailboxes``: the Raft node, its log and the mailboxes in LMDB) and its clock, and
/// commits commands for the rest of the server.
///
/// It owns the LMDB environment, the replica, and what this server knows of its own membership.
/// Applied changes go out through ``applied`` (the client gateway pushes mail and receipts from them).
final class RaftDriver: Service, Sendable {
    let context: ServerContext
    var id: NodeID { context.id }
    var logger: Logger { context.logger }
    var configuration: ServerConfiguration { context.configuration }
    let mesh: PeerMesh
    private let environment: Environment
    /// Whether the data directory held Raft state at start-up (this server belongs to a cluster).
    let hasPersistedState: Bool
    /// The replica, once the cluster has formed (or the server rejoined it).
    let replicaLatch = Latch<ReplicatedMailboxes>()
    /// Whether the last applied membership included this server.
    private let wasMember = Mutex(false)
    /// What the replica applied, in order, for the client gateway.
    let applied = AppliedChanges()

    init(context: ServerContext, mesh: PeerMesh) throws {
        self.context = context
        self.mesh = mesh
        let lmdb = context.configuration.dataDirectory + "/lmdb"
        try IdentityStore.checkPermissions(directory: lmdb, secret: [lmdb + "/data.mdb", lmdb + "/lock.mdb"])
        environment = try Environment(path: lmdb)
        hasPersistedState = try RaftLogStore(environment: environment).hasPersistedState()
    }

    /// The replicated mailboxes, once the cluster has formed.
    var replica: ReplicatedMailboxes? { replicaLatch.value }

    /// Whether this server belongs to a running cluster.
    func knowsCluster() async -> Bool {
        guard !hasPersistedState else { return true }
        return await replica?.membership.all.isEmpty == false
    }

    /// Runs until cancelled or shut down; then stops the replica (proposals still waiting fail).
    func run() async {
        do {
            try await cancelWhenGracefulShutdown { try await self.runRaft() }
        } catch is CancellationError {
        } catch {
            logger.error("raft stopped: \(error)")
            // The rest of the server keeps answering (e.g. admin status) until it is shut down.
            try? await gracefulShutdown()
        }
        await replicaLatch.close()?.stop()
        applied.finish()
    }

    /// Syncs and closes the storage: once every component stopped.
    func closeStorage() throws {
        try environment.sync()
        environment.close()
    }

    private func runRaft() async throws {
        // A server without Raft state forms a new cluster with its peers or joins theirs.
        let voters: Set<NodeID>? = hasPersistedState ? nil : try await decideHowToStart()
        mesh.formedVoters.withLock { $0 = voters ?? [] }
        var raftConfiguration = RaftConfiguration(id: id, randomSeed: UInt64.random(in: 0...UInt64.max))
        raftConfiguration.electionTicks = 10
        raftConfiguration.leaderPersistsInParallel = true
        let mesh = self.mesh
        let logger = self.logger
        let onLeaderChange = configuration.onLeaderChange
        let applied = self.applied
        let replica = try ReplicatedMailboxes(
            configuration: raftConfiguration, environment: environment, bootstrapVoters: voters,
            limits: configuration.mailboxLimits, compactEvery: configuration.compactEvery,
            snapshotChunkBytes: configuration.snapshotChunkBytes, logger: logger, metrics: context.metrics.replica,
            send: { message in try? mesh.send(.raft(message), to: message.to) },
            sendTransfer: { peer, transfer in try mesh.send(.snapshot(transfer), to: peer) },
            onLeaderChange: { leader, term in
                logger.info("leader changed", metadata: ["raft.leader": "\(leader.map { "\($0)" } ?? "none")", "raft.term": "\(term)"])
                onLeaderChange(leader)
            },
            onMembership: { [weak self] membership in self?.membershipApplied(membership) },
            onApplied: { [weak self] changes in
                self?.dialNewServers(changes)
                applied.yield(changes)
            }
        )
        try await replica.start()
        let releaser = MemoryReleaser(
            environment: environment, mappedPagesBudget: configuration.mappedPagesBudget,
            heapTrimInterval: configuration.heapTrimInterval, logger: logger
        )
        releaser.start()
        defer { releaser.stop() }
        let restored = await replica.membership
        wasMember.withLock { $0 = restored.all.contains(id) }
        mesh.membershipChanged(restored)
        replicaLatch.set(replica)
        await mesh.broadcastHello()
        dialRegisteredServers()
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await self.registerAddress() }
            var ticks = 0
            while !Task.isCancelled {
                try await Task.sleep(for: configuration.tickInterval)
                try await replica.tick()
                ticks += 1
                if ticks % 10 == 0 { await replica.reconcileMembership() }
            }
        }
    }

    // MARK: Membership

    /// Dials every server registered in the replicated state (so that servers that joined later
    /// are part of the full mesh too).
    func dialRegisteredServers() {
        for (server, address) in registeredServers() where server != id { mesh.requestDial(address) }
    }

    /// The servers registered in the replicated state, with their addresses.
    func registeredServers() -> [NodeID: String] {
        (try? replica?.mailboxes.servers()) ?? [:]
    }

    private func dialNewServers(_ changes: [ReplicatedMailboxes.AppliedChange]) {
        for change in changes {
            switch change {
            case .snapshotRestored: dialRegisteredServers()
            case .command(.registerServer(let server, let address), let outcome) where server != id && outcome != .serverRetired:
                mesh.requestDial(address)
            case .command(.admitServer(let server, let address), _) where server != id: mesh.requestDial(address)
            default: continue
            }
        }
    }

    /// Keeps the mesh's membership and the "removed" marker in step with the applied membership:
    /// the marker is written when this server leaves a membership it was part of, deleted when it
    /// is a member again.
    private func membershipApplied(_ membership: Membership) {
        mesh.membershipChanged(membership)
        let isMember = membership.all.contains(id)
        let wasMember = wasMember.withLock { was in
            defer { was = isMember }
            return was
        }
        if isMember {
            try? FileManager.default.removeItem(atPath: context.removedMarkerPath)
        } else if wasMember {
            // The marker first: whoever reads the line below (an operator, a test) may stop the
            // server at once, and a restart without the marker would try to rejoin.
            writeRemovedMarker()
            logger.warning("this server was removed from the cluster")
        }
    }

    /// Marks this server removed, so that a restart does not ask to rejoin.
    func writeRemovedMarker() {
        if !FileManager.default.createFile(atPath: context.removedMarkerPath, contents: Data("removed from the cluster\n".utf8)) {
            logger.error("could not write the removed marker at \(context.removedMarkerPath): a restart will try to rejoin")
        }
    }
}
