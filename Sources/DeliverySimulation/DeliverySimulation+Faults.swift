import Delivery
import Mailbox
import P2PCore
import Raft

extension DeliverySimulation {
    // MARK: - Reachability

    /// Tells clients which servers and peers they reach now; a link that died drops its session.
    func updateReachability() throws {
        // Links that break during this pass (a client's reaction goes out on a link that dies)
        // stay dead until the next pass has told both ends.
        let dying = deadLinks
        defer { deadLinks.subtract(dying) }
        for client in clients where client.isUp {
            for server in servers {
                let link = pair(.client(client.index), .server(server.index))
                let reachable = server.isUp && !blocked.contains(link) && !deadLinks.contains(link)
                guard reachable != client.reachableServers.contains(server.id) else { continue }
                if reachable {
                    client.reachableServers.insert(server.id)
                } else {
                    client.reachableServers.remove(server.id)
                    server.dropSession(client.id)
                    if !deadLinks.contains(link) { pairDeaths[link, default: 0] += 1 }
                }
                let id = server.id
                log("c\(client.index) \(reachable ? "connects to" : "loses") s\(server.index)")
                try drive(client) { $0.step(reachable ? .serverConnected(id) : .serverDisconnected(id), now: millis, crashHere: $1) }
                guard client.isUp else { break }
            }
            for other in clients where other.index != client.index && client.isUp {
                let link = pair(.client(client.index), .client(other.index))
                let reachable = other.isUp && directLinks.contains(clientPair(client.index, other.index))
                    && !blocked.contains(link) && !deadLinks.contains(link)
                guard reachable != client.reachablePeers.contains(other.id) else { continue }
                let peer = other.id
                try drive(client) { $0.setPeer(peer, reachable: reachable, now: millis, crashHere: $1) }
            }
        }
    }

    // MARK: - Faults

    func injectFaults() throws {
        if chance(options.partitionRate) { partition() }
        if chance(options.healRate), !blocked.isEmpty {
            blocked.removeAll()
            log("network healed")
        }
        if chance(options.serverCrashRate), let victim = servers.filter(\.isUp).randomElement(using: &rng), canCrash() {
            victim.crash()
            linkDeaths[.server(victim.index), default: 0] += 1
            // Its links die with it, even if it is back before the next reachability pass.
            for client in clients { deadLinks.insert(pair(.server(victim.index), .client(client.index))) }
            checker.countFault()
            log("s\(victim.index) crashes")
        }
        for server in servers where !server.isUp && chance(options.serverRestartRate) {
            try restart(server)
        }
        if chance(options.clientCrashRate), let victim = clients.filter(\.isUp).randomElement(using: &rng) {
            victim.crash()
            try process(victim)
            clientCrashed(victim, between: false)
        }
        for client in clients where !client.isUp && chance(options.clientRestartRate) {
            try restart(client)
        }
        if chance(options.directFlipRate), clients.count > 1 {
            let a = Int(rng.next() % UInt64(clients.count))
            let b = (a + 1 + Int(rng.next() % UInt64(clients.count - 1))) % clients.count
            let link = clientPair(a, b)
            if directLinks.remove(link) == nil { directLinks.insert(link) } else { checker.countFault() }
            log("direct link c\(link[0])-c\(link[1]) \(directLinks.contains(link) ? "up" : "down")")
        }
        if chance(options.purgeRate), let leader = servers.first(where: { $0.raft?.role == .leader }) {
            let victim = clients[Int(rng.next() % UInt64(clients.count))]
            if try leader.admin(.purge(recipient: victim.id)) {
                checker.countFault()
                log("operator purges the mailbox of \(names[victim.id] ?? "?") at s\(leader.index)")
            }
            try flush(leader)
        }
        if chance(options.compactionRate), let server = servers.filter(\.isUp).randomElement(using: &rng) {
            try server.compact()
            try flush(server)
        }
    }

    private func partition() {
        checker.countFault()
        let all: [Endpoint] = servers.map { .server($0.index) } + clients.map { .client($0.index) }
        var cut: [[Endpoint]] = []
        switch rng.next() % UInt64(4) {
        case 0:
            // Servers split in two groups.
            let shuffled = servers.map(\.index).shuffled(using: &rng)
            let side = Set(shuffled.prefix(1 + Int(rng.next() % UInt64(servers.count - 1))))
            for a in servers.map(\.index) {
                for b in servers.map(\.index) where side.contains(a) && !side.contains(b) { cut.append(pair(.server(a), .server(b))) }
            }
        case 1:
            // A client loses some servers.
            let client = Int(rng.next() % UInt64(clients.count))
            for server in servers where rng.next() % UInt64(2) == 0 { cut.append(pair(.client(client), .server(server.index))) }
        case 2:
            // Two clients cannot reach each other directly.
            let a = Int(rng.next() % UInt64(clients.count))
            let b = (a + 1) % clients.count
            cut.append(pair(.client(a), .client(b)))
        default:
            // One endpoint hears nobody and is heard by nobody.
            let victim = all[Int(rng.next() % UInt64(all.count))]
            for other in all where other != victim { cut.append(pair(victim, other)) }
        }
        for link in cut where !blocked.contains(link) {
            blocked.insert(link)
            pairDeaths[link, default: 0] += 1
            // Both ends of a client's link learn it died, even if the cut heals before they look.
            if case .client = link[1] { deadLinks.insert(link) }
        }
        log("partition: \(cut.map { "\($0[0])|\($0[1])" }.joined(separator: " "))")
    }

    /// At most a minority of the servers is down at once, so the cluster can make progress.
    private func canCrash() -> Bool {
        let down = servers.filter { !$0.isUp }.count
        return (down + 1) * 2 < servers.count
    }

    func restart(_ server: SimulatedServer) throws {
        server.now = now
        try server.restart()
        try flush(server)
        log("s\(server.index) restarts")
    }

    func restart(_ client: SimulatedClient) throws {
        client.restart(seed: rng.next())
        log("c\(client.index) restarts (outbox \(client.ledger.outbox.count))")
        try drive(client) { $0.step($0.receiveInput, now: millis, crashHere: $1) }
    }

    /// A client died: its links die with it.
    func clientCrashed(_ client: SimulatedClient, between: Bool) {
        linkDeaths[.client(client.index), default: 0] += 1
        for server in servers { deadLinks.insert(pair(.client(client.index), .server(server.index))) }
        for other in clients where other.index != client.index { deadLinks.insert(pair(.client(client.index), .client(other.index))) }
        for server in servers { server.dropSession(client.id) }
        checker.countFault()
        log("c\(client.index) crashes\(between ? " between two directives" : "")")
    }
}
