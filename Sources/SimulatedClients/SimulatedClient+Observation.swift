import P2PCore
import Synchronization
import Transport
import WireCodec

extension SimulatedClient {
    /// The real client's UDP observation (`DirectPaths.observeForever`): one UDP socket of its
    /// own (on this client's address), each server it is attached to asked in turn what source
    /// address it sees (2 s timeout each), then a pause of the observation interval (1 s until a first answer).
    /// The first round starts after a random part of the interval, as clients that did not all
    /// start in the same instant would.
    func observeForever() async {
        guard let endpoint = try? await UDPEndpoint.bind(host: host, port: 0, configuration: linkConfiguration) else { return }
        let kept = state.withLock { state in
            guard state.running else { return false }
            state.udp = endpoint
            return true
        }
        guard kept else { return endpoint.close() }
        let interval = configuration.observationInterval
        do { try await Task.sleep(for: interval * Double.random(in: 0..<1)) } catch { return }
        var mapped = false
        while isRunning, !Task.isCancelled {
            // As the real client: only the servers it is attached to.
            let attached = state.withLock { state in configuration.servers.indices.filter { state.welcomed[$0] } }
            for server in attached.map({ configuration.servers[$0] }) {
                if (try? await endpoint.observe(server: server, timeout: .seconds(2))) != nil {
                    mapped = true
                    counters.observations.wrappingAdd(1, ordering: .relaxed)
                } else {
                    counters.unansweredObservations.wrappingAdd(1, ordering: .relaxed)
                }
            }
            do { try await Task.sleep(for: mapped ? interval : .seconds(1)) } catch { return }
        }
    }
}
