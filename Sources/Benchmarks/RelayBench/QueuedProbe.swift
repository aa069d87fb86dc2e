import ClusterHarness
import Foundation
import MessageModel
import P2PCore
import SimulatedClients

/// After a server restarts: when does it serve again? A fresh client that knows only that
/// server attaches and sends one message through it; `/readyz` is polled beside.
enum QueuedProbe {
    struct Result: Sendable {
        /// Since `since`: the probe client was welcomed; its send committed; `/readyz` said 200.
        var welcome: Duration?
        var commit: Duration?
        var ready: Duration?
    }

    static func serve(
        server: ServerProcess, configuration: FleetConfiguration, firstIndex: Int, recipient: NodeID, monitorPort: Int?,
        since start: ContinuousClock.Instant, timeout: Duration
    ) async throws -> Result {
        var only = configuration
        only.servers = [server.address]
        let probe = SimulatedFleet(count: 1, firstIndex: firstIndex, configuration: only)
        defer { probe.stop() }
        let clock = ContinuousClock()
        let readiness = Task<Duration?, Never> {
            guard let monitorPort else { return nil }
            while clock.now - start < timeout, !Task.isCancelled {
                if ReadinessProbe.status(port: monitorPort) == 200 { return clock.now - start }
                try? await Task.sleep(for: .milliseconds(100))
            }
            return nil
        }
        var result = Result()
        probe.start()
        if await probe.waitUntilAttached(count: 1, timeout: timeout - (clock.now - start)) != nil {
            result.welcome = clock.now - start
            let client = probe.clients[0]
            let message = client.makeMessage(to: recipient, payload: Array("probe".utf8))
            while clock.now - start < timeout {
                let answer = await client.offer(message, to: 0, timeout: .seconds(5))
                if answer == .stored || answer == .alreadyDelivered {
                    result.commit = clock.now - start
                    break
                }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        result.ready = await readiness.value
        return result
    }
}
