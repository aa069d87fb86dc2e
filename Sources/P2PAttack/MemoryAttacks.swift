import ClientProtocol
import Foundation
import NIOCore
import P2PCore
import Synchronization
import Transport
import WireCodec

/// Attacks on the servers' memory: each must leave every server under twice its idle RSS and
/// `mailbox-admin status` answering in under a second.
struct MemoryAttacks {
    let context: AttackContext
    let seed: UInt64

    func run() async -> [AttackOutcome] {
        var outcomes: [AttackOutcome] = []
        outcomes.append(await unreadQueries())
        outcomes.append(await hugeFrameAnnouncements())
        outcomes.append(await idleConnections())
        outcomes.append(await idleClientLinks())
        outcomes.append(await randomFramesBeforeHandshake())
        outcomes.append(await randomFramesAfterHandshake())
        return outcomes
    }

    // MARK: (a) a client that never reads

    /// Registers `count` clients with many LAN addresses each, so that a `clients` answer is
    /// large; returns how many registered and with how many addresses each.
    private func fillRegistry(_ count: Int, via target: ServerTarget) async -> (registered: Int, addresses: Int) {
        for addresses in [32, 8, 1] {
            let lan = (0..<addresses).map { "10.\($0 % 250).\(($0 * 7) % 250).\(($0 * 13) % 250):6\(String(format: "%04d", $0))" }
            let secret = context.secret
            let results = await concurrently(count, width: 12) { _ in
                guard let client = try? await HostileClient.dial(target.address, secret: secret) else { return false }
                defer { client.close() }
                if case .welcome? = await client.hello(ClientHello(lanAddresses: lan, subscribe: false)).push { return true }
                return false
            }
            let registered = results.filter { $0 }.count
            if registered > count / 2 { return (registered, addresses) }
        }
        return (0, 0)
    }

    private func unreadQueries() async -> AttackOutcome {
        let name = "memory-unread-clients-queries"
        let target = context.servers[0]
        let (registered, addresses) = await fillRegistry(context.options.registryClients, via: target)
        guard registered > 0 else { return .vulnerable(name, "setup: could not register the clients that make the answers large") }
        let queries = context.options.queries
        return await context.memoryAttack(name, statusVia: context.servers[1]) {
            let client = try await HostileClient.dial(target.address, secret: context.secret)
            defer { client.close() }
            guard case .welcome? = await client.hello().push else { return (false, "the attacker's hello was not welcomed") }
            // One answer, read, to know its size.
            try client.send(.query(request: 0, .clients))
            let sample = await client.nextPush(within: .seconds(10))
            guard case .queryResult(_, .clients(let records))? = sample.push else { return (false, "no sample answer: \(String(describing: sample.end))") }
            let answerBytes = ServerPush.queryResult(request: 0, .clients(records)).encoded().count
            var sent = 0
            do {
                for request in 1...queries {
                    try client.send(.query(request: UInt64(request), .clients))
                    sent += 1
                }
            } catch {}
            // The attacker now never reads; the server has answers worth queries × answerBytes to send.
            try await Task.sleep(for: .seconds(5))
            let during = await context.status(via: context.servers[2])
            // Then read what arrives, to see whether the server kept it all or dropped the link.
            var answers = 0
            var end = "still open after 5 s of silence"
            reading: while true {
                switch await client.next(within: .seconds(5)) {
                case .frame(let frame): if frame.type == ClientProtocol.pushFrame { answers += 1 }
                case .closed(let error): end = "the server closed it" + (error.map { " (\($0))" } ?? ""); break reading
                case .timedOut: break reading
                }
            }
            let detail = "\(registered) clients × \(addresses) LAN addresses make each answer \(answerBytes / 1024) KiB; "
                + "\(sent) queries sent unread (\(sent * answerBytes / 1_048_576) MiB of answers); status while unread: \(during.summary); "
                + "on reading: \(answers) answers, then \(end)"
            return (during.passes, detail)
        }
    }

    // MARK: (b) 16 MiB frame announcements before the handshake

    private func hugeFrameAnnouncements() async -> AttackOutcome {
        let name = "memory-16mib-frame-announcements"
        let perServer = context.options.announcements
        let servers = context.servers
        return await context.memoryAttack(name) {
            let results = await concurrently(perServer * servers.count, width: perServer * servers.count) { index in
                let server = servers[index % servers.count]
                return await announce(to: server, from: AttackContext.attackerAddress(group: 2, index: index))
            }
            let closed = results.filter(\.closedByServer).count
            let maximumWritten = results.map(\.written).max() ?? 0
            let detail = "\(results.count) unauthenticated connections each announced 16 MiB and pushed its body: "
                + "\(closed) closed by the servers, at most \(maximumWritten / 1024) KiB taken by the kernel before that"
            return (closed == results.count, detail)
        }
    }

    private struct Announcement: Sendable {
        var written = 0
        var closedByServer = false
    }

    /// Announces a 16 MiB hello and writes its body in 256 KiB pieces until the server closes.
    private func announce(to server: ServerTarget, from source: String) async -> Announcement {
        var result = Announcement()
        guard let channel = try? await RawConnection.open(host: server.address.host, port: server.address.port, from: source) else {
            // Refused at connect time counts as closed by the server.
            result.closedByServer = true
            return result
        }
        let length = UInt32(16 << 20)
        do {
            try await channel.executeThenClose { inbound, outbound in
                let watchdog = Watchdog(after: .seconds(10)) { channel.channel.close(promise: nil) }
                defer { watchdog.cancel() }
                let reader = Task { () -> Bool in
                    do { for try await _ in inbound {} } catch {}
                    return true
                }
                do {
                    try await outbound.write(RawConnection.header(announcing: length, type: 1))
                    let piece = ByteBuffer(repeating: 0x41, count: 256 << 10)
                    while result.written < Int(length) {
                        try await outbound.write(piece)
                        result.written += piece.readableBytes
                    }
                } catch {}
                _ = await reader.value
                result.closedByServer = !watchdog.fired
            }
        } catch {
            result.closedByServer = true
        }
        return result
    }

    // MARK: (c) idle connections and idle links

    private func idleConnections() async -> AttackOutcome {
        let name = "memory-idle-connections"
        let count = context.options.idleConnections
        let servers = context.servers
        return await context.memoryAttack(name) {
            // `count` connections to every server, from many attacker addresses (so that
            // per-address caps alone cannot be what holds).
            let channels = await concurrently(count * servers.count, width: 256) { index -> (any Channel)? in
                let server = servers[index % servers.count]
                return try? await RawConnection.openIdle(
                    host: server.address.host, port: server.address.port, from: AttackContext.attackerAddress(group: 3, index: index / 16)
                )
            }.compactMap { $0 }
            try await Task.sleep(for: .seconds(1))
            let openAfterOneSecond = channels.filter(\.isActive).count
            let during = await context.status(via: servers[0])
            // The handshake timeout (5 s) must close the rest.
            try await Task.sleep(for: .seconds(6))
            let stillOpen = channels.filter(\.isActive).count
            for channel in channels { channel.close(promise: nil) }
            let detail = "\(channels.count) idle TCP connections opened (\(count) per server); after 1 s \(openAfterOneSecond) open; "
                + "status during: \(during.summary); after 7 s \(stillOpen) still open"
            return (stillOpen == 0, detail)
        }
    }

    private func idleClientLinks() async -> AttackOutcome {
        let name = "memory-idle-client-links"
        let count = context.options.idleLinks
        let target = context.servers[0]
        let secret = context.secret
        return await context.memoryAttack(name, statusVia: context.servers[1]) {
            // Authenticated client links (every client has the cluster secret) that never send a hello.
            let links = await concurrently(count, width: 12) { _ -> Link? in
                try? await HostileClient.dial(target.address, secret: secret).link
            }.compactMap { $0 }
            try await Task.sleep(for: .seconds(2))
            let during = await context.status(via: context.servers[0])
            for link in links { link.close() }
            let detail = "\(links.count) of \(count) authenticated client links to \(target.name) established and left idle; "
                + "status during: \(during.summary)"
            return (true, detail)
        }
    }

    // MARK: (d) random frames

    private func randomFramesBeforeHandshake() async -> AttackOutcome {
        let name = "memory-random-frames-before-handshake"
        let servers = context.servers
        let total = context.options.randomFrames
        let perConnection = 50
        let connections = (total + perConnection - 1) / perConnection
        let seed = self.seed
        return await context.memoryAttack(name) {
            let results = await concurrently(connections * servers.count, width: 48) { index -> Bool? in
                let server = servers[index % servers.count]
                var random = RandomFrames(seed: seed &+ UInt64(index))
                var burst = ByteBuffer()
                for _ in 0..<perConnection {
                    var frame = random.preHandshakeFrame()
                    burst.writeBuffer(&frame)
                }
                guard let channel = try? await RawConnection.open(
                    host: server.address.host, port: server.address.port, from: AttackContext.attackerAddress(group: 4, index: index)
                ) else { return nil }
                return try? await channel.executeThenClose { inbound, outbound in
                    try? await outbound.write(burst)
                    let received = await RawConnection.receive(inbound, on: channel.channel, timeout: .seconds(7))
                    return received.closedByServer && received.frames.allSatisfy { $0.type == 1 }
                }
            }
            let connected = results.compactMap { $0 }
            let closed = connected.filter { $0 }.count
            let detail = "\(connections * perConnection) random frames per server over \(connections) connections each: "
                + "\(closed) of \(connected.count) connections closed by the servers (nothing but a hello sent back)"
            return (closed == connected.count, detail)
        }
    }

    private func randomFramesAfterHandshake() async -> AttackOutcome {
        let name = "memory-random-frames-after-handshake"
        let servers = context.servers
        let total = context.options.randomFrames
        let perLink = 50
        let linksPerServer = (total + perLink - 1) / perLink
        let secret = context.secret
        let seed = self.seed &+ 1_000_000
        // A few identities, reused, so that the registry does not grow with every link.
        let identities = (0..<8).map { _ in NodeIdentity.ephemeral() }
        return await context.memoryAttack(name) {
            let results = await concurrently(linksPerServer * servers.count, width: 12) { index -> (sent: Int, closed: Bool)? in
                let server = servers[index % servers.count]
                var random = RandomFrames(seed: seed &+ UInt64(index))
                guard let client = try? await HostileClient.dial(server.address, identity: identities[index % identities.count], secret: secret) else {
                    return nil
                }
                var sent = 0
                if index % 2 == 0 {
                    try? client.send(.hello(ClientHello(subscribe: index % 4 == 0)))
                    sent += 1
                }
                while sent < perLink {
                    let frame = random.applicationFrame()
                    guard (try? client.send(type: frame.type, frame.bytes)) != nil else { break }
                    sent += 1
                }
                let (_, closed, _) = await client.awaitClose(within: .seconds(3))
                return (sent, closed)
            }
            let links = results.compactMap { $0 }
            let frames = links.reduce(0) { $0 + $1.sent }
            let closed = links.filter(\.closed).count
            let detail = "\(frames) random application frames over \(links.count) authenticated client links "
                + "(\(linksPerServer) per server, half after a valid hello): \(closed) links closed by the servers"
            return (true, detail)
        }
    }
}
