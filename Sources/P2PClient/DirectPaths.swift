import ClientProtocol
import Logging
import NIOCore
import P2PCore
import Synchronization
import Transport
import WireCodec

/// How a direct path to a peer runs.
public enum DirectPathKind: String, Sendable, Codable {
    /// A TCP link to one of the peer's LAN addresses.
    case lan
    /// A KCP tunnel over UDP, hole-punched through the NATs (or straight, when nothing is between).
    case udp
}

/// The client's direct paths to other clients: a TCP listener for LAN links, and one UDP socket
/// for NAT observation, hole punching and KCP tunnels. A sender asks for a path with
/// ``want(_:)``; attempts run in the background (LAN candidates and a server-coordinated punch at
/// once), retry with backoff while the pair has traffic, and a path that stops answering is
/// dropped within seconds. Frames other than keepalives go to `onFrame`.
actor DirectPaths {
    /// What the paths need from the rest of the client.
    struct Hooks: Sendable {
        /// Asks a server to introduce this client to a peer (`nil`: no introduction possible now).
        var introduce: @Sendable (_ peer: NodeID, _ tcp: [String], _ udp: [String]) async -> Introduction?
        /// The peer's registered identity key (`nil`: unknown), to check who answered.
        var publicKey: @Sendable (NodeID) async -> [UInt8]?
        /// A frame from a peer (a message or an acknowledgement).
        var onFrame: @Sendable (Link, Frame) async -> Void
        /// The set of peers with a direct path changed.
        var onChange: @Sendable ([NodeID]) async -> Void
    }

    struct Path {
        let link: Link
        let kind: DirectPathKind
        let probe = PathProbe()
    }

    /// When each link last heard from its peer (judged by its keepalive task).
    private final class LastHeard: Sendable {
        private let silence = Mutex(PeerSilence(heardAt: .now()))
        func touch() { silence.withLock { $0.heard(at: .now()) } }
        /// Whether the peer is gone, judged by a check due at `due`.
        func isGone(due: NIODeadline) -> Bool {
            silence.withLock { $0.isGone(now: .now(), due: due, deadAfter: DirectPaths.deadAfterAmount, stall: DirectPaths.pingAmount) }
        }
        var isSilent: Bool { silence.withLock { $0.isSilent(now: .now(), deadAfter: DirectPaths.deadAfterAmount) } }
    }

    private struct Retry {
        var notBefore: ContinuousClock.Instant
        var backoff: Backoff
    }

    let tcpPort: Int
    let udpPort: Int
    /// `host:port` of this client's TCP listener on each LAN address.
    let tcpCandidates: [String]
    private let lanHosts: [String]
    private let listener: LinkListener
    let udp: UDPEndpoint
    private let linkConfiguration: LinkConfiguration
    /// The servers whose UDP side tells this client its public mapping: those it is attached to.
    var observedServers: [String]
    var schedule = MappingSchedule()
    var nextObservation = ContinuousClock.now
    let logger: Logger
    private var hooks: Hooks?
    var paths: [NodeID: [Path]] = [:]
    /// The last attempt at a direct path to each peer (see ``P2PClient/paths()``).
    var lastAttempts: [NodeID: PathAttempt] = [:]
    /// Path changes and attempts, for ``P2PClient/pathEvents``.
    nonisolated let events = PathEventBroadcast()
    private var attempting: Set<NodeID> = []
    private var retries: [NodeID: Retry] = [:]
    var publicMapping: String?
    private var tasks: [UInt64: Task<Void, Never>] = [:]
    private var nextTask: UInt64 = 0
    private var stopped = false

    static let pingInterval: Duration = .seconds(1)
    static let deadAfter: Duration = .seconds(4)
    static let pingAmount = TimeAmount(pingInterval)
    static let deadAfterAmount = TimeAmount(deadAfter)
    static let firstRetry: Duration = .seconds(1)
    static let longestRetry: Duration = .seconds(8)

    /// Binds the TCP listener and the UDP socket on `host:port` (the UDP socket on the TCP port
    /// when that is free, so a NAT maps both alike).
    init(host: String, port: Int, servers: [String], linkConfiguration: LinkConfiguration, logger: Logger) async throws {
        listener = try await LinkListener.bind(host: host, port: port, configuration: linkConfiguration, onFailure: { _ in })
        do {
            udp = try await UDPEndpoint.bind(host: host, port: listener.port, configuration: linkConfiguration)
        } catch {
            do {
                udp = try await UDPEndpoint.bind(host: host, port: 0, configuration: linkConfiguration)
            } catch {
                listener.close()
                throw error
            }
        }
        let port = listener.port
        let hosts = Self.lanHosts(listeningOn: host)
        tcpPort = port
        udpPort = udp.localPort
        lanHosts = hosts
        tcpCandidates = hosts.map { "\($0):\(port)" }
        self.linkConfiguration = linkConfiguration
        observedServers = servers
        self.logger = logger
    }

    /// Starts accepting peers' links and observing this client's public UDP mapping.
    func start(_ hooks: Hooks) {
        self.hooks = hooks
        let listener = self.listener
        spawn {
            await withDiscardingTaskGroup { group in
                for await link in listener.links {
                    group.addTask { await self.accepted(link) }
                }
            }
        }
        spawn { await self.observeForever() }
    }

    /// Runs `body` in a task that ``stop()`` cancels.
    private func spawn(_ body: @escaping @Sendable () async -> Void) {
        guard !stopped else { return }
        nextTask += 1
        let number = nextTask
        tasks[number] = Task {
            await body()
            self.finished(number)
        }
    }

    private func finished(_ number: UInt64) { tasks[number] = nil }

    /// The addresses of the interfaces a wildcard listener answers on (IPv4, loopback last).
    static func lanHosts(listeningOn host: String) -> [String] {
        guard HostPort.isWildcard(host) || host.isEmpty else { return [host] }
        var hosts: [String] = []
        for device in (try? System.enumerateDevices()) ?? [] {
            guard case .v4 = device.address, let ip = device.address?.ipAddress, !ip.hasPrefix("127.") else { continue }
            if !hosts.contains(ip) { hosts.append(ip) }
        }
        return hosts.isEmpty ? ["127.0.0.1"] : hosts
    }

    /// This client's UDP candidates: its LAN addresses and the public mapping servers observed.
    private var udpCandidates: [String] {
        var candidates = lanHosts.map { "\($0):\(udpPort)" }
        if let publicMapping, !candidates.contains(publicMapping) { candidates.append(publicMapping) }
        return candidates
    }

    // MARK: Paths

    /// The path messages to `peer` take now (a LAN link before a UDP tunnel), if any.
    func best(to peer: NodeID) -> Path? {
        let available = paths[peer] ?? []
        return available.first { $0.kind == .lan } ?? available.first
    }

    func link(to peer: NodeID) -> Link? { best(to: peer)?.link }

    var peers: [NodeID] { paths.keys.sorted() }

    /// The kind of path each peer's messages take now.
    var kinds: [NodeID: DirectPathKind] {
        var result: [NodeID: DirectPathKind] = [:]
        for peer in paths.keys { result[peer] = best(to: peer)?.kind }
        return result
    }

    /// The client has traffic for `peer`: starts an attempt unless a path exists, one runs, or
    /// the last failure's backoff has not passed.
    func want(_ peer: NodeID) {
        guard !stopped, paths[peer] == nil, !attempting.contains(peer) else { return }
        if let retry = retries[peer], ContinuousClock.now < retry.notBefore { return }
        attempting.insert(peer)
        spawn { await self.attempt(peer) }
    }

    /// This side asked for the introduction: LAN dials and the punch race; every path that
    /// works is kept (LAN preferred).
    private func attempt(_ peer: NodeID) async {
        guard let hooks else { return }
        // The peer will punch towards the mapping the server hands it: make it a fresh one.
        if schedule.isStale(at: .now) { await observeRound(timeout: .seconds(1)) }
        let introduction = await hooks.introduce(peer, tcpCandidates, udpCandidates)
        var succeeded = false
        if let introduction {
            let results = await withTaskGroup(of: (DirectPathKind, AttemptResult).self) { group in
                group.addTask { (.lan, await self.dialLAN(introduction)) }
                group.addTask { (.udp, await self.punch(introduction)) }
                var results: [DirectPathKind: AttemptResult] = [:]
                for await (kind, result) in group { results[kind] = result }
                return results
            }
            succeeded = results.values.contains { $0.succeeded }
            attempted(peer, .lanAndUDP, results)
        } else {
            attempted(peer, .lanAndUDP, succeeded: false, reason: "no introduction: the servers know no online peer \(peer) (offline, unknown, or attached nowhere)")
        }
        attempting.remove(peer)
        if succeeded || paths[peer] != nil {
            retries[peer] = nil
        } else {
            var backoff = retries[peer]?.backoff ?? Backoff(initial: Self.firstRetry, maximum: Self.longestRetry)
            let delay = backoff.next()
            retries[peer] = Retry(notBefore: .now + delay, backoff: backoff)
            refreshMapping()
            logger.debug("no direct path to \(peer) yet; next try in \(delay)")
        }
    }

    /// A server passed on a peer's request: punch towards it (it dials our LAN listener itself).
    func introduced(_ introduction: Introduction) {
        guard !stopped else { return }
        refreshMapping()
        spawn { await self.attempted(introduction.peer, .udp, [.udp: await self.punch(introduction)]) }
    }

    private func dialLAN(_ introduction: Introduction) async -> AttemptResult {
        var configuration = linkConfiguration
        configuration.connectTimeout = .seconds(1)
        configuration.handshakeTimeout = .seconds(2)
        guard !introduction.tcp.isEmpty else { return AttemptResult(succeeded: false, detail: "the peer reported no LAN address") }
        var failures: [String] = []
        for candidate in introduction.tcp {
            guard let target = HostPort(candidate) else { continue }
            let link: Link
            do {
                link = try await LinkDialer.connect(host: target.host, port: target.port, configuration: configuration)
            } catch {
                failures.append("\(candidate): \(error)")
                continue
            }
            if await adopt(link, .lan, expected: introduction.peer) { return AttemptResult(succeeded: true, detail: "LAN link to \(candidate)") }
            failures.append("\(candidate): not the peer's registered key")
        }
        return AttemptResult(succeeded: false, detail: "no LAN address of the peer answered (\(failures.joined(separator: "; ")))")
    }

    private func punch(_ introduction: Introduction) async -> AttemptResult {
        guard !introduction.udp.isEmpty else { return AttemptResult(succeeded: false, detail: "no UDP candidate for the peer (no server observed its mapping)") }
        let address: String
        do {
            address = try await udp.punch(token: introduction.token, candidates: introduction.udp, timeout: .seconds(3))
        } catch {
            logger.debug("no UDP path to \(introduction.peer): \(error)")
            return AttemptResult(succeeded: false, detail: "no UDP reply from \(introduction.udp.joined(separator: ", ")) within 3 s")
        }
        do {
            let peer = introduction.peer
            let link = try await udp.tunnel(
                to: address, conversation: introduction.conversation, role: introduction.initiator ? .dialer : .listener,
                timeout: .seconds(3), vet: { $0.id == peer }
            )
            let adopted = await adopt(link, .udp, expected: peer)
            return AttemptResult(succeeded: adopted, detail: adopted ? "UDP tunnel to \(address)" : "UDP tunnel to \(address): not the peer's registered key")
        } catch {
            logger.debug("no UDP tunnel to \(introduction.peer): \(error)")
            return AttemptResult(succeeded: false, detail: "a UDP reply from \(address), but the tunnel failed: \(error)")
        }
    }

    private func accepted(_ link: Link) async {
        _ = await adopt(link, .lan, expected: nil)
    }

    /// Keeps `link` as a path if its peer proved the key the registry holds for its id.
    private func adopt(_ link: Link, _ kind: DirectPathKind, expected: NodeID?) async -> Bool {
        let peer = link.peer.id
        guard !stopped, expected == nil || expected == peer, let hooks, await hooks.publicKey(peer) == link.peer.publicKey else {
            link.close()
            return false
        }
        let isNewPeer = paths[peer] == nil
        let path = Path(link: link, kind: kind)
        paths[peer, default: []].append(path)
        logger.notice("direct path up", metadata: ["p2p.peer": "\(peer)", "p2p.path": "\(kind.rawValue)", "p2p.remote": "\(link.peer.remoteAddress ?? "?")"])
        pathChanged(peer, "\(kind == .lan ? "LAN link" : "UDP tunnel") up to \(link.peer.remoteAddress ?? "?")")
        spawn { await self.serve(path, hooks) }
        if isNewPeer { await hooks.onChange(peers) }
        return true
    }

    /// Reads the link until it closes or falls silent, pinging it meanwhile.
    private nonisolated func serve(_ path: Path, _ hooks: Hooks) async {
        let (link, kind, probe) = (path.link, path.kind, path.probe)
        let lastHeard = LastHeard()
        let keepalive = Task {
            while !Task.isCancelled {
                let due = NIODeadline.now() + Self.pingAmount
                do { try await Task.sleep(for: Self.pingInterval) } catch { return }
                if lastHeard.isGone(due: due) {
                    link.close()
                    return
                }
                try? link.send(type: Transport.FrameType.directPing.rawValue, PathProbe.Ping.encode(PathProbe.Ping.request, probe.sent()))
            }
        }
        var ended = "link closed"
        do {
            for try await frame in link.inbound {
                lastHeard.touch()
                guard frame.type == Transport.FrameType.directPing.rawValue else {
                    await hooks.onFrame(link, frame)
                    continue
                }
                switch PathProbe.Ping.decode(frame.bytes) {
                case (PathProbe.Ping.request, let sequence)?:
                    try? link.send(type: Transport.FrameType.directPing.rawValue, PathProbe.Ping.encode(PathProbe.Ping.echo, sequence))
                case (PathProbe.Ping.echo, let sequence)?:
                    probe.echoed(sequence)
                default:
                    break
                }
            }
        } catch {
            ended = "\(error)"
        }
        if lastHeard.isSilent { ended = "silent for over \(Self.deadAfter)" }
        keepalive.cancel()
        link.close()
        await lost(link, kind, ended, hooks)
    }

    private func lost(_ link: Link, _ kind: DirectPathKind, _ why: String, _ hooks: Hooks) async {
        let peer = link.peer.id
        paths[peer]?.removeAll { $0.link === link }
        if !stopped { pathChanged(peer, "\(kind == .lan ? "LAN link" : "UDP tunnel") down: \(why)") }
        guard paths[peer]?.isEmpty ?? false else { return }
        paths[peer] = nil
        refreshMapping()
        logger.notice("direct path down", metadata: ["p2p.peer": "\(peer)", "p2p.path": "\(kind.rawValue)"])
        await hooks.onChange(peers)
    }

    func stop() {
        stopped = true
        for task in tasks.values { task.cancel() }
        tasks.removeAll()
        for path in paths.values.flatMap({ $0 }) { path.link.close() }
        paths.removeAll()
        listener.close()
        udp.close()
        events.finish()
    }
}
