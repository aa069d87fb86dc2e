import ClientProtocol
import Logging
import P2PCore

/// Which servers the client keeps links to (``AttachmentPlan``): the supervisor starts and
/// stops one ``ServerDialer`` loop per address as the plan changes.
extension ClientEngine {
    /// Keeps links to the servers the plan wants, until cancelled.
    nonisolated func maintainServers() async {
        var running: [String: Task<Void, Never>] = [:]
        await withTaskCancellationHandler {
            var changes = planChanges.stream.makeAsyncIterator()
            repeat {
                let (start, stop, observed) = await reconcile(Set(running.keys))
                for address in stop { running.removeValue(forKey: address)?.cancel() }
                for address in start { running[address] = Task { await self.maintain(address) } }
                await direct?.observe(servers: observed)
            } while await changes.next() != nil
        } onCancel: {
            planChanges.continuation.finish()
        }
        for task in running.values { task.cancel() }
        for task in running.values { await task.value }
    }

    /// What to start and stop dialling now, and the servers whose UDP side to observe (those
    /// connected, else those dialled).
    private func reconcile(_ running: Set<String>) -> (start: [String], stop: [String], observed: [String]) {
        let wanted = plan.wanted(at: .now)
        let stop = running.subtracting(wanted).sorted()
        for address in stop { plan.released(address) }
        let start = wanted.filter { !running.contains($0) }
        for address in start { plan.dialling(address) }
        let connected = connections.connectedAddresses
        if !stop.isEmpty { logger.debug("released servers \(stop): preferred ones are back") }
        if !start.isEmpty, !running.isEmpty { logger.debug("dialling servers \(start) (attached to at most \(plan.maximum))") }
        return (start, stop, connected.isEmpty ? wanted : connected)
    }

    /// The plan learned something: the supervisor looks again.
    func planChanged() {
        planChanges.continuation.yield()
    }

    /// `address` went down: look again now, and once it has been down for the fall-over delay.
    func planAddressDown(_ address: String) {
        guard plan.disconnected(address, at: .now) else { return }
        planChanged()
        Task { [weak self] in
            try? await Task.sleep(for: AttachmentPlan.failoverDelay + .milliseconds(50))
            await self?.planChanged()
        }
    }
}
