import ClientProtocol
import Logging
import Transport

/// Observing this client's public UDP mapping (as STUN does) through the UDP side of the servers
/// it is attached to, paced by ``MappingSchedule``.
extension DirectPaths {
    /// Asks the observed servers' UDP side what this socket looks like from outside, as
    /// ``MappingSchedule`` paces it (which also keeps the NAT mapping open).
    func observeForever() async {
        while !Task.isCancelled {
            await observeRound(timeout: .seconds(2))
            // Until the next round is due; a reset (``refreshMapping()``) brings it forward.
            while ContinuousClock.now < nextObservation {
                do { try await Task.sleep(for: min(.seconds(1), nextObservation - .now)) } catch { return }
            }
        }
    }

    /// Asks every observed server at once and schedules the next round.
    func observeRound(timeout: Duration) async {
        let udp = udp
        let answers = await withTaskGroup(of: (String, String?).self) { group in
            for server in observedServers {
                group.addTask { (server, try? await udp.observe(server: server, timeout: timeout)) }
            }
            var answers: [String: String] = [:]
            for await (server, mapping) in group { if let mapping { answers[server] = mapping } }
            return answers
        }
        for (server, mapping) in answers.sorted(by: { $0.key < $1.key }) {
            if mapping != publicMapping { logger.debug("public UDP mapping \(mapping) (seen by \(server))") }
            publicMapping = mapping
        }
        nextObservation = .now + schedule.observed(answers, at: .now)
    }

    /// Observes only `servers` from now on (the ones the client is attached to); a new one is
    /// asked at once (a restarted server has forgotten every mapping).
    func observe(servers: [String]) {
        guard Set(servers) != Set(observedServers) else { return }
        let added = !Set(servers).isSubset(of: Set(observedServers))
        observedServers = servers
        schedule.keep(Set(servers))
        if added { refreshMapping() }
    }

    /// Something may have moved this client's public mapping: observe now, then at the fast pace.
    func refreshMapping() {
        schedule.reset()
        nextObservation = .now
    }
}
