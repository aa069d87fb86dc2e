import ClientProtocol
import Mailbox
import Foundation
import MessageModel
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
        // Idle authenticated links last: the memory they take is not all handed back to the
        // system after they close, and would count against the attacks after them.
        await context.run([
            ("memory-unread-clients-queries", { await unreadQueries() }),
            ("memory-16mib-frame-announcements", { await hugeFrameAnnouncements() }),
            ("memory-idle-connections", { await idleConnections() }),
            ("memory-random-frames-before-handshake", { await randomFramesBeforeHandshake() }),
            ("memory-random-frames-after-handshake", { await randomFramesAfterHandshake() }),
            ("memory-idle-client-links", { await idleClientLinks() }),
        ])
    }

    // MARK: (a) a client that never reads

    /// Registers `count` clients with as many and as long LAN addresses as a hello may carry, so
    /// that a `clients` answer is large; returns how many registered and their addresses each.
    private func fillRegistry(_ count: Int, via target: ServerTarget) async -> (registered: Int, addresses: Int) {
        for addresses in [ClientRecord.Limits.maximumLANAddresses, 8, 1] {
            // Each address as long as allowed: a 58-byte host name and a port.
            let lan = (0..<addresses).map { index in
                String(repeating: "h", count: ClientRecord.Limits.maximumAddressLength - 8) + String(format: "%02d:65000", index % 100)
            }
            let listen = String(repeating: "l", count: ClientRecord.Limits.maximumListenAddressLength)
            let secret = context.secret
            let results = await concurrently(count, width: 12) { _ in
                guard let client = try? await HostileClient.dial(target.address, secret: secret) else { return false }
                defer { client.close() }
                let hello = ClientHello(lanAddresses: lan, listenAddress: listen, listenPort: 65_000, subscribe: false)
                if case .welcome? = await client.hello(hello).push { return true }
                return false
            }
            let registered = results.filter { $0 }.count
            if registered > count / 2 { return (registered, addresses) }
        }
        return (0, 0)
    }

    /// A client that registers, sends `clients` queries and never reads its socket: the link is
    /// made by hand, so nothing on the attacker's side reads on its behalf.
    private func unreadQueries() async -> AttackOutcome {
        let name = "memory-unread-clients-queries"
        let target = context.smallestServer
        let (registered, addresses) = await fillRegistry(context.options.registryClients, via: target)
        guard registered > 0 else { return .vulnerable(name, "setup: could not register the clients that make the answers large") }
        // One answer, read, to know its size.
        guard let sampler = try? await HostileClient.dial(target.address, secret: context.secret),
              case .welcome? = await sampler.hello().push
        else { return .vulnerable(name, "setup: the sampling client was not welcomed") }
        try? sampler.send(.query(request: 0, .clients))
        let sample = await sampler.nextPush(within: .seconds(10))
        sampler.close()
        guard case .queryResult(_, .clients(let records))? = sample.push else {
            return .vulnerable(name, "setup: no sample answer (\(String(describing: sample.end)))")
        }
        let answerBytes = ServerPush.queryResult(request: 0, .clients(records)).encoded().count
        let queries = context.options.queries
        let secret = context.secret
        let others = context.servers.filter { $0.name != target.name }
        return await context.memoryAttack(name, statusVia: others.first) {
            let channel = try await RawConnection.open(host: target.address.host, port: target.address.port, from: AttackContext.attackerAddress(group: 1, index: 1))
            return try await channel.executeThenClose { inbound, outbound in
                var frames = inbound.makeAsyncIterator()
                let handshake = RawHandshake(role: 1)
                guard var session = try await handshake.establish(&frames, outbound, secret: secret) else {
                    return (false, "the hand-made client link was not established")
                }
                try await outbound.write(try session.seal(type: ClientProtocol.requestFrame, ClientRequest.hello(ClientHello(subscribe: false)).encoded()))
                var sent = 0
                do {
                    for request in 1...queries {
                        try await outbound.write(try session.seal(type: ClientProtocol.requestFrame, ClientRequest.query(request: UInt64(request), .clients).encoded()))
                        sent += 1
                    }
                } catch {}
                // The attacker reads nothing now (its channel stops reading once a few frames
                // are buffered); the server has `sent` answers to deliver.
                try await Task.sleep(for: .seconds(6))
                let during = await context.status(via: others.last ?? target)
                // Then it reads, to see whether the server kept everything or dropped the link.
                let watchdog = Watchdog(after: .seconds(20)) { channel.channel.close(promise: nil) }
                defer { watchdog.cancel() }
                var received = 0
                var end = "the server closed the link"
                do {
                    while try await frames.next() != nil { received += 1 }
                } catch {
                    end += " (\(error))"
                }
                if watchdog.fired { end = "the link was still open after 20 s" }
                let detail = "\(registered) clients × \(addresses) LAN addresses of 64 bytes make each answer \(answerBytes / 1024) KiB; "
                    + "a hand-made client link to \(target.name) sent \(sent) queries and never read (\(sent * answerBytes / 1_048_576) MiB of answers); "
                    + "status while unread: \(during.summary); on reading at last: \(received) frames, then \(end)"
                return (during.passes, detail)
            }
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
            let slowest = results.map(\.closedAfter).max() ?? .zero
            let detail = "\(results.count) unauthenticated connections (\(perServer) per server) each announced a 16 MiB hello and pushed its body: "
                + "\(closed) closed by the servers, the last after \(slowest.wholeMilliseconds) ms; at most \(maximumWritten / 1024) KiB written by then (socket buffers)"
            return (closed == results.count, detail)
        }
    }

    private struct Announcement: Sendable {
        var written = 0
        var closedByServer = false
        var closedAfter: Duration = .zero
    }

    /// Announces a 16 MiB hello and writes its body in 256 KiB pieces until the server closes.
    private func announce(to server: ServerTarget, from source: String) async -> Announcement {
        var result = Announcement()
        let started = ContinuousClock.now
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
                let reader = Task { () -> Duration in
                    do { for try await _ in inbound {} } catch {}
                    return ContinuousClock.now - started
                }
                do {
                    try await outbound.write(RawConnection.header(announcing: length, type: 1))
                    let piece = ByteBuffer(repeating: 0x41, count: 256 << 10)
                    while result.written < Int(length), channel.channel.isActive {
                        try await outbound.write(piece)
                        result.written += piece.readableBytes
                    }
                } catch {}
                result.closedAfter = await reader.value
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
            let duringLocal = await context.status(via: servers[0], localSocket: true)
            // The handshake timeout (5 s) must close the rest.
            try await Task.sleep(for: .seconds(6))
            let stillOpen = channels.filter(\.isActive).count
            for channel in channels { channel.close(promise: nil) }
            let detail = "\(channels.count) idle TCP connections opened (\(count) per server); after 1 s \(openAfterOneSecond) open; "
                + "status during: remote \(during.summary), local socket \(duringLocal.summary); after 7 s \(stillOpen) still open"
            return (stillOpen == 0, detail)
        }
    }

    /// Authenticated client links (the cluster secret is every client's) that never send a
    /// hello, made by hand from many attacker addresses, held open together.
    private func idleClientLinks() async -> AttackOutcome {
        let name = "memory-idle-client-links"
        let count = context.options.idleLinks
        let target = context.smallestServer
        let secret = context.secret
        let others = context.servers.filter { $0.name != target.name }
        return await context.memoryAttack(name, statusVia: others.first) {
            let started = ContinuousClock.now
            // Staggered (3 ms apart) so that handshakes in progress stay few; 16 links per address.
            let stagger = Duration.milliseconds(3)
            let holdUntil = started + stagger * count + .seconds(5)
            let statusTask = Task { () -> StatusCheck in
                try? await Task.sleep(until: holdUntil - .seconds(2))
                return await context.status(via: target)
            }
            let results = await concurrently(count, width: count) { index -> (established: Bool, closedByServer: Bool) in
                try? await Task.sleep(until: started + stagger * index)
                guard let channel = try? await RawConnection.open(
                    host: target.address.host, port: target.address.port, from: AttackContext.attackerAddress(group: 6, index: index % 125)
                ) else { return (false, true) }
                return (try? await channel.executeThenClose { inbound, outbound in
                    var frames = inbound.makeAsyncIterator()
                    guard try await RawHandshake(role: 1).establish(&frames, outbound, secret: secret) != nil else { return (false, true) }
                    // Idle until the hold ends; did the server close it meanwhile?
                    let watchdog = Watchdog(after: holdUntil - ContinuousClock.now) { channel.channel.close(promise: nil) }
                    defer { watchdog.cancel() }
                    do { while try await frames.next() != nil {} } catch {}
                    return (true, !watchdog.fired)
                }) ?? (false, true)
            }
            let during = await statusTask.value
            try await Task.sleep(for: .seconds(5))
            let afterRelease = MemorySampler.residentBytes(of: target.pid) ?? 0
            let established = results.filter(\.established).count
            let held = results.filter { $0.established && !$0.closedByServer }.count
            let detail = "\(established) of \(count) authenticated client links to \(target.name) established by hand (from 125 addresses) "
                + "and left without a hello; \(held) still open when released \(((holdUntil - started).components.seconds)) s later; status during: \(during.summary); "
                + "\(target.name) rss 5 s after release \(megabytes(afterRelease)) MB"
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
        let secret = context.secret
        let seed = self.seed &+ 1_000_000
        // A few identities, reused, so that the registry does not grow with every link.
        let identities = (0..<8).map { _ in NodeIdentity.generate() }
        return await context.memoryAttack(name) {
            // Links until every server was sent `total` frames (most links are closed early, by
            // the first frame the server refuses, and take fewer than `perLink`).
            var sent = [Int](repeating: 0, count: servers.count)
            var links = 0, closed = 0, next = 0
            while case let lagging = sent.indices.filter({ sent[$0] < total }), !lagging.isEmpty {
                let batch = lagging.flatMap { server in (0..<4).map { _ in server } }
                let first = next
                next += batch.count
                let results = await concurrently(batch.count, width: 12) { offset -> (server: Int, sent: Int, closed: Bool)? in
                    let index = first + offset
                    let server = batch[offset]
                    var random = RandomFrames(seed: seed &+ UInt64(index))
                    guard let client = try? await HostileClient.dial(
                        servers[server].address, identity: identities[index % identities.count], secret: secret
                    ) else { return nil }
                    var count = 0
                    if index % 2 == 0 {
                        try? client.send(.hello(ClientHello(subscribe: index % 4 == 0)))
                        count += 1
                    }
                    while count < perLink {
                        let frame = random.applicationFrame()
                        guard (try? client.send(type: frame.type, frame.bytes)) != nil else { break }
                        count += 1
                    }
                    let (_, closedByServer, _) = await client.awaitClose(within: .seconds(3))
                    return (server, count, closedByServer)
                }
                for result in results.compactMap({ $0 }) {
                    sent[result.server] += result.sent
                    links += 1
                    if result.closed { closed += 1 }
                }
                if next > 100 * total { break }  // nothing gets through: do not loop for ever
            }
            let detail = "random application frames over \(links) authenticated client links (half after a valid hello), "
                + "per server \(sent.map(String.init).joined(separator: "/")): \(closed) links closed by the servers"
            return (sent.allSatisfy { $0 >= total }, detail)
        }
    }
}
