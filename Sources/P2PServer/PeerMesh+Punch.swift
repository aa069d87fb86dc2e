import ClientProtocol
import Logging
import Mailbox
import P2PCore
import Synchronization
import Transport

/// Server links through NATs, the way clients reach each other: a server that cannot dial a
/// member (or a configured peer) asks a member both are linked to for an introduction; that
/// member tells both the other's candidates (the address it said it is reached at, and its UDP
/// mapping as the member observed it), a punch token and a KCP conversation; both punch, and the
/// ordinary server link (server secret, pinned ids) runs over the reliable-datagram tunnel.
/// Pairs that cannot punch (symmetric NATs) are reached through a relay (``PeerLinks/send(_:to:)``).
extension PeerMesh {
    /// How often a server looks for peers it has no link to, and observes its UDP mapping.
    static let seekInterval: Duration = .seconds(2)
    /// How long a server waits before asking again for the same peer.
    static let seekRetry: Duration = .seconds(4)

    /// Runs until cancelled: observes this server's UDP mapping at every linked peer (which also
    /// tells them the mapping) and asks for introductions to the servers it has no link to.
    func seekPeers(_ udp: UDPEndpoint) async {
        var asked: [String: ContinuousClock.Instant] = [:]
        while !Task.isCancelled {
            do { try await Task.sleep(for: Self.seekInterval) } catch { return }
            // First the mapping (so that an introduction asked for now carries it), then the asking.
            await withTaskGroup(of: Void.self) { group in
                for peer in links.connectedIDs {
                    guard let address = links.hello(of: peer)?.address, !address.isEmpty else { continue }
                    group.addTask { _ = try? await udp.observe(server: address, timeout: .seconds(1)) }
                }
            }
            let linked = links.connectedIDs
            guard !linked.isEmpty else { continue }
            let now = ContinuousClock.now
            for wanted in wantedPeers() where !(wanted.id.map(linked.contains) ?? false) {
                let key = wanted.id?.description ?? wanted.address
                if let last = asked[key], now - last < Self.seekRetry { continue }
                asked[key] = now
                // Ask a neighbour that says it is linked to the target, else any neighbour.
                let helper = wanted.id.flatMap { target in linked.sorted().first { links.hello(of: $0)?.linked.contains(target) == true } }
                    ?? linked.sorted().first { links.hello(of: $0)?.address != wanted.address }
                guard let helper else { continue }
                logger.debug("asking for an introduction", metadata: ["p2p.to": "\(key)", "p2p.through": "\(helper)"])
                try? links.link(to: helper)?.send(.connectServer(ServerConnectRequest(target: wanted.id, address: wanted.address)))
            }
        }
    }

    /// The servers this one should have a link to: every member, and every configured peer.
    private func wantedPeers() -> [(id: NodeID?, address: String)] {
        let registered = router?.registeredServers() ?? [:]
        var wanted: [(id: NodeID?, address: String)] = []
        for member in members.withLock({ $0 }) where member != id {
            wanted.append((member, registered[member] ?? links.hello(of: member)?.address ?? ""))
        }
        let resolved = resolvedPeers.withLock { $0 }
        for address in context.configuration.peers where address != advertisedAddress {
            let peer = resolved[address] ?? links.peer(at: address)
            if peer == id || wanted.contains(where: { $0.id != nil && $0.id == peer }) { continue }
            wanted.append((peer, address))
        }
        return wanted
    }

    /// As the member both are linked to: tells `asker` and the server it asked for how to reach
    /// each other (at most once per pair every few seconds).
    func introduceServers(_ request: ServerConnectRequest, asker: NodeID) {
        guard let target = request.target.flatMap({ links.link(to: $0) != nil ? $0 : nil }) ?? links.peer(at: request.address),
              target != asker, target != id, links.link(to: target) != nil
        else { return }
        let pair = asker < target ? "\(asker)-\(target)" : "\(target)-\(asker)"
        let now = ContinuousClock.now
        let recent = serverIntroductions.withLock { introduced in
            if let last = introduced[pair], now - last < Self.seekRetry { return true }
            introduced[pair] = now
            return false
        }
        guard !recent else { return }
        var generator = SystemRandomNumberGenerator()
        let token = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let conversation = UInt32.random(in: 1...UInt32.max, using: &generator)
        func candidates(_ server: NodeID) -> [String] {
            mappings.candidates(links.hello(of: server).map { $0.address.isEmpty ? [] : [$0.address] } ?? [], of: server)
        }
        let toAsker = Introduction(peer: target, tcp: [], udp: candidates(target), token: token, conversation: conversation, initiator: true)
        let toTarget = Introduction(peer: asker, tcp: [], udp: candidates(asker), token: token, conversation: conversation, initiator: false)
        logger.debug("introducing servers", metadata: ["p2p.asker": "\(asker)", "p2p.target": "\(target)"])
        for (server, introduction) in [(asker, toAsker), (target, toTarget)] {
            try? links.link(to: server)?.send(.introduceServer(introduction))
        }
    }

    /// Punches towards the server an introduction names and serves the server link over the
    /// tunnel; a failure is noted for `mailbox-admin status`.
    func punchServer(_ introduction: Introduction) {
        guard let udp, links.link(to: introduction.peer) == nil else { return }
        let peer = introduction.peer
        Task {
            do {
                let address = try await udp.punch(token: introduction.token, candidates: introduction.udp, timeout: .seconds(3))
                let link = try await udp.tunnel(
                    to: address, conversation: introduction.conversation, role: introduction.initiator ? .dialer : .listener,
                    linkRole: .server, timeout: .seconds(3), vet: { $0.id == peer && $0.role == .server && ServerContext.vet($0) }
                )
                logger.info("server link punched", metadata: ["p2p.peer": "\(peer)", "p2p.remote": "\(address)"])
                if introduction.initiator {
                    try link.send(.hello(await hello()))
                    await serve(link, kind: .udpPunched)
                } else {
                    var frames = link.inbound.makeAsyncIterator()
                    guard let first = try await frames.next() else { return link.close() }
                    await answer(link, first: first, kind: .udpPunched)
                }
            } catch {
                logger.debug("no punched link to server \(peer): \(error)")
                links.recordFailure("hole punching failed: \(error)", for: peer)
            }
        }
    }
}
