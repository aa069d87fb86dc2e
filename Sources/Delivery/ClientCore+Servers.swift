import MessageModel
import P2PCore

extension ClientCore {
    mutating func serverConnected(_ server: NodeID) {
        connected.insert(server)
        if subscribed == nil { subscribe(server) }
        // Whatever is not delivered yet is offered again: the server answers idempotently, and a
        // receipt missed while disconnected shows up as "already delivered".
        for key in outbox.keys.sorted() { offerAgain(key) }
    }

    mutating func serverDisconnected(_ server: NodeID) {
        guard connected.remove(server) != nil else { return }
        if subscribed == server {
            subscribed = nil
            if let next = choose(from: connected.sorted()) { subscribe(next) }
        }
        for key in outbox.keys.sorted() where outbox[key]?.attempt == .relay(server) { scheduleRetry(key) }
    }

    private mutating func subscribe(_ server: NodeID) {
        subscribed = server
        emit(.subscribe(server))
    }

    /// One extra relay offer of `key`, beside whatever attempt runs; it becomes the attempt
    /// when the message was only waiting for its next try.
    private mutating func offerAgain(_ key: OutboxKey) {
        guard var entry = outbox[key], let server = pickServer(for: key.recipient) else { return }
        emit(.relay(entry.message, to: server))
        guard entry.fate == .pending, entry.attempt == .waiting else { return }
        entry.attempt = .relay(server)
        entry.epoch += 1
        outbox[key] = entry
        timers.schedule(.attempt(key, epoch: entry.epoch), at: now &+ configuration.attemptTimeout)
    }

    /// A connected server `recipient` is attached to, else any connected server: its home
    /// (``HomeServer``) for a first offer, a random one for a retry (so that a server that is
    /// connected but does not answer does not hold the message).
    mutating func pickServer(for recipient: NodeID, retry: Bool = false) -> NodeID? {
        let attached = Set(attachedServers[recipient] ?? [])
        let all = connected.sorted()
        let preferred = all.filter(attached.contains)
        let candidates = preferred.isEmpty ? all : preferred
        return retry ? choose(from: candidates) : HomeServer.choose(for: recipient, among: candidates)
    }

    private mutating func choose(from servers: [NodeID]) -> NodeID? {
        guard !servers.isEmpty else { return nil }
        return servers[Int(random.next() % UInt64(servers.count))]
    }

    /// Acknowledges `id` on the path it came by: on its direct link (if that link is gone, the
    /// sender relays the message, and the relayed copy is acknowledged as a duplicate), or to
    /// the server that pushed it, else the subscribed server, else any connected one.
    mutating func acknowledge(_ id: MessageID, route: Route) {
        switch route {
        case .direct(let link):
            emit(.acknowledgeDirect(id, on: link))
        case .relay(let server):
            guard let target = connected.contains(server) ? server : subscribed ?? connected.min() else { return }
            emit(.acknowledgeRelayed(id, to: target))
        }
    }
}
