import Mailbox
import MessageModel
import P2PCore
import Prometheus
import Raft
import Synchronization
import Transport

extension P2PServer {
    /// This server's metrics (its own Prometheus registry; see ``ServerMetrics``).
    public var metrics: ServerMetrics { context.metrics }

    /// Reads the state gauges (Raft, mailboxes, clients) from the server: called before each
    /// scrape, so that nothing on the message path maintains them.
    public func refreshMetrics() async {
        let metrics = context.metrics
        // The servers' own endpoints are not counted as clients (as in `clients()`).
        let servers = raft.registeredServers()
        let sessions = gateway.sessions.all.filter { servers[$0.client] == nil }
        metrics.attachedClients.set(Int64(Set(sessions.map(\.client)).count))
        var pairs = Set<[NodeID]>()
        for session in sessions {
            for peer in await session.directPeers { pairs.insert([session.client, peer].sorted()) }
        }
        metrics.directPairs.set(Int64(pairs.count))
        metrics.clientQueuedBytes.set(Int64(context.clientQueuedBytes.value))
        guard let replica else {
            for gauge in metrics.raftRole.values { gauge.set(Int64(0)) }
            metrics.raftLeaderKnown.set(Int64(0))
            return
        }
        let membership = await replica.membership
        let role = await replica.role
        let shownRole = role == .follower && !membership.voters.contains(id) ? "learner" : role.rawValue
        for (name, gauge) in metrics.raftRole { gauge.set(Int64(name == shownRole ? 1 : 0)) }
        metrics.raftTerm.set(Int64(clamping: await replica.term))
        metrics.raftCommitIndex.set(Int64(clamping: await replica.commitIndex))
        metrics.raftAppliedIndex.set(Int64(clamping: await replica.appliedIndex))
        metrics.raftMembers.set(Int64(membership.all.count))
        metrics.raftLeaderKnown.set(Int64(await replica.leader == nil ? 0 : 1))
        var messages = 0, bytes = 0
        var oldest: UInt64?
        for record in (try? replica.mailboxes.clients()) ?? [] {
            guard let stats = try? replica.mailboxes.stats(for: record.id), stats.messages > 0 else { continue }
            messages = messages.saturatingAdding(stats.messages)
            bytes = bytes.saturatingAdding(stats.bytes)
            if let first = stats.oldestEnqueuedAtMillis { oldest = min(oldest ?? first, first) }
        }
        metrics.mailboxMessages.set(Int64(messages))
        metrics.mailboxBytes.set(Int64(bytes))
        let now = ClientGateway.nowMillis()
        metrics.mailboxOldestAge.set(oldest.map { Double(now &- min(now, $0)) / 1000 } ?? 0)
    }
}

extension P2PServer {
    /// The port the monitor listens on, once it does (`nil`: no monitor, or it stopped or failed
    /// to bind). Waits up to `timeout`.
    public func monitorPort(timeout: Duration = .seconds(10)) async -> Int? {
        guard let monitor = monitor.withLock({ $0 }) else { return nil }
        return await monitor.boundPort.wait(timeout: timeout)
    }
}
