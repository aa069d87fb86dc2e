import ClientProtocol
import P2PCore
import Synchronization
import Transport
import WireCodec

extension SimulatedClient {
    /// The real client's UDP observation (`DirectPaths.observeForever`): one UDP socket of its
    /// own (on this client's address), the servers it is attached to asked in turn (2 s timeout
    /// each), the next round when ``FleetConfiguration/observationPace`` says (the real client's
    /// ``MappingSchedule`` by default). A server it newly attached to (a restarted one has
    /// forgotten every mapping) starts the schedule over, as there; the client notices it within
    /// ``newServerCheck`` rather than at once, to keep thousands of clients from waking every second.
    /// The first round starts after a random part of a second, as clients that did not all
    /// start in the same instant would.
    func observeForever() async {
        guard let endpoint = try? await UDPEndpoint.bind(host: host, port: 0, configuration: linkConfiguration) else { return }
        let kept = state.withLock { state in
            guard state.running else { return false }
            state.udp = endpoint
            return true
        }
        guard kept else { return endpoint.close() }
        do { try await Task.sleep(for: MappingSchedule.searching * Double.random(in: 0..<1)) } catch { return }
        var schedule = MappingSchedule()
        var observed: Set<String> = []
        var mapped = false
        while isRunning, !Task.isCancelled {
            // As the real client: only the servers it is attached to.
            let attached = Set(state.withLock { state in configuration.servers.indices.filter { state.welcomed[$0] } }.map { configuration.servers[$0] })
            if !attached.isSubset(of: observed) { schedule.reset() }
            observed = attached
            schedule.keep(attached)
            let answers = await observeRound(endpoint, attached)
            mapped = mapped || !answers.isEmpty
            let delay = switch configuration.observationPace {
            case .schedule: schedule.observed(answers, at: .now)
            case .every(let interval): mapped ? interval : MappingSchedule.searching
            }
            guard await pause(delay, unlessAttachedBeyond: observed) else { return }
        }
    }

    /// How often a client waiting for its next round looks whether it attached to another server.
    static var newServerCheck: Duration { MappingSchedule.fastest }

    /// Asks each server in `servers` in turn (the real client asks them at once; in turn, each
    /// ask's throwaway route-check socket (`UDPEndpoint.observe`) is the only one this client has
    /// open, which keeps 4,000 clients per worker within the open-file limit); their answers by address.
    private func observeRound(_ endpoint: UDPEndpoint, _ servers: Set<String>) async -> [String: String] {
        var answers: [String: String] = [:]
        for server in servers.sorted() {
            if let mapping = try? await endpoint.observe(server: server, timeout: .seconds(2)) {
                answers[server] = mapping
                counters.observations.wrappingAdd(1, ordering: .relaxed)
            } else {
                counters.unansweredObservations.wrappingAdd(1, ordering: .relaxed)
            }
        }
        return answers
    }

    /// Sleeps `delay`, in steps of ``newServerCheck``, ending early once the client is attached
    /// to a server not in `observed`; `false` if cancelled.
    private func pause(_ delay: Duration, unlessAttachedBeyond observed: Set<String>) async -> Bool {
        let until = ContinuousClock.now + delay
        while ContinuousClock.now < until {
            do { try await Task.sleep(for: min(Self.newServerCheck, until - .now)) } catch { return false }
            let grown = state.withLock { state in
                configuration.servers.indices.contains { state.welcomed[$0] && !observed.contains(configuration.servers[$0]) }
            }
            if grown { return true }
        }
        return true
    }
}
