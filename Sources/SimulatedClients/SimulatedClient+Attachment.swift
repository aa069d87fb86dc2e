import ClientProtocol
import P2PCore
import Synchronization
import Transport

/// Which servers a simulated client keeps links to: the real client's ``AttachmentPlan`` (its
/// supervisor is `ClientEngine.maintainServers`), one ``SimulatedClient/maintain(_:)`` task per
/// server the plan wants.
extension SimulatedClient {
    /// Reconciles the dialled servers with the plan each time `changes` yields, until the client stops.
    func superviseAttachments(_ changes: AsyncStream<Void>) async {
        for await _ in changes {
            guard isRunning, !Task.isCancelled else { return }
            reconcileAttachments()
        }
    }

    /// Starts dialling the servers the plan wants now; stops (cancels and closes) the others.
    private func reconcileAttachments() {
        let closing = state.withLock { state -> [Link] in
            guard state.running else { return [] }
            let wanted = Set(state.plan.wanted(at: .now))
            var closing: [Link] = []
            for (server, task) in state.dialers where !wanted.contains(configuration.servers[server]) {
                task.cancel()
                state.dialers[server] = nil
                state.plan.released(configuration.servers[server])
                if let link = state.links[server] { closing.append(link) }
            }
            for (server, address) in configuration.servers.enumerated() where wanted.contains(address) && state.dialers[server] == nil {
                state.plan.dialling(address)
                state.dialers[server] = Task { await self.maintain(server) }
            }
            return closing
        }
        for link in closing { link.close() }
    }

    /// Server number `server` welcomed the client (a stand-in may no longer be needed).
    func planConnected(_ server: Int) {
        state.withLock { $0.plan.connected(configuration.servers[server]) }
        signalPlan()
    }

    /// The link to server number `server` ended or could not be made: the plan looks again now
    /// and once the fall-over delay has passed. Nothing for a server the plan released.
    func planDown(_ server: Int) {
        guard !Task.isCancelled else { return }
        let wentDown = state.withLock { $0.plan.disconnected(configuration.servers[server], at: .now) }
        guard wentDown else { return }
        signalPlan()
        Task {
            try? await Task.sleep(for: AttachmentPlan.failoverDelay + .milliseconds(50))
            self.signalPlan()
        }
    }

    private func signalPlan() {
        _ = state.withLock { $0.planSignal }?.yield()
    }
}
