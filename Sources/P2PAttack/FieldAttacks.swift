import AdminProtocol
import ClientProtocol
import ClusterHarness
import Foundation
import P2PCore
import Transport

/// Oversized and abusive fields: a hello too large to replicate, and `connect` requests naming
/// candidates the attacker chose, which must never make the peer probe them.
struct FieldAttacks {
    let context: AttackContext
    /// A real client the attacker asks to be introduced to.
    let realClient: NodeID

    func run() async -> [AttackOutcome] {
        await context.run([
            ("oversized-hello-lan-addresses", { await oversizedHello() }),
            ("connect-arbitrary-candidates", { await arbitraryCandidates() }),
            ("nested-batch-frame", { await nestedBatchFrame() }),
        ])
    }

    /// One request frame holding a batch in a batch in a batch… 100,000 levels deep (800 KB):
    /// a decoder that recursed into each level before refusing a nested batch would overflow
    /// its stack and take the server down.
    private func nestedBatchFrame() async -> AttackOutcome {
        let name = "nested-batch-frame"
        guard let attacker = try? await HostileClient.dial(context.servers[0].address, secret: context.secret),
              case .welcome? = await attacker.hello().push
        else { return .vulnerable(name, "setup: the attacking client was not welcomed") }
        defer { attacker.close() }
        let ack = ClientRequest.acknowledge(MessageID(sender: realClient, sequence: 1)).encoded()
        let frame = NestedEncoding.lengthPrefixed(oneLevel: ClientRequest.batch(encoded: [ack]), inner: ack, levels: 100_000)
        do {
            try attacker.send(type: ClientProtocol.requestFrame, frame)
        } catch {
            return .vulnerable(name, "the link closed before the frame went: \(error)")
        }
        let (_, closedByServer, _) = await attacker.awaitClose(within: .seconds(10))
        try? await Task.sleep(for: .seconds(1))
        let dead = context.deadServers()
        if !dead.isEmpty { return .vulnerable(name, "\(dead.joined(separator: ", ")) died on an 800 KB frame of 100,000 nested batches") }
        let status = await context.status(via: context.servers[0])
        guard closedByServer, status.passes else {
            return .vulnerable(name, "an 800 KB frame of 100,000 nested batches: \(closedByServer ? "link closed" : "link not closed in 10 s"); \(status.summary)")
        }
        return .refused(name, "an 800 KB frame of 100,000 nested batches: link closed by the server, every server alive, \(status.summary)")
    }

    /// Not an attack the servers can refuse: a client's LAN addresses are its own report, so a
    /// client that reports an address (or, for UDP, any port on a reported host) can have a peer
    /// probe it. Measured and printed as a note, so that the limit is visible.
    func selfReportedCandidates() async -> String {
        guard let honeypot = Honeypot() else { return "could not open the honeypot sockets" }
        defer { honeypot.close() }
        guard let attacker = try? await HostileClient.dial(context.servers[0].address, secret: context.secret),
              case .welcome? = await attacker.hello(ClientHello(lanAddresses: [honeypot.tcpAddress], subscribe: false)).push
        else { return "the reporting client was not welcomed" }
        defer { attacker.close() }
        try? attacker.send(.connect(request: 1, peer: realClient, tcp: [honeypot.tcpAddress], udp: [honeypot.udpAddress]))
        try? await Task.sleep(for: .seconds(4))
        let hits = honeypot.hits()
        return "a client that reports \(honeypot.tcpAddress) as its LAN address and names it (and UDP \(honeypot.udpAddress), same host) "
            + "in connect got the real peer to send \(hits.tcp) TCP connection(s) and \(hits.udp) datagram(s) there"
    }

    private func oversizedHello() async -> AttackOutcome {
        let name = "oversized-hello-lan-addresses"
        let before = context.dataBytes()
        let lan = (0..<64).map { index in String(repeating: "\(index % 10)", count: 60_000) + ":1" }
        let client: HostileClient
        do {
            client = try await HostileClient.dial(context.servers[0].address, secret: context.secret)
        } catch {
            return .vulnerable(name, "could not open a client link: \(error)")
        }
        let (push, end) = await client.hello(ClientHello(lanAddresses: lan, subscribe: false), within: .seconds(30))
        let attacker = client.id
        client.close()
        let answer: String = switch push {
        case .welcome?: "WELCOMED"
        case .refused(let reason)?: "refused: \(reason)"
        default: "link closed (\(end.map { "\($0)" } ?? "?"))"
        }
        try? await Task.sleep(for: .seconds(2))
        let grown = context.dataBytes() - before
        guard case .clients(let clients)? = try? await context.operatorRequest(.clients) else {
            return .vulnerable(name, "3.8 MB hello \(answer); the operator could not list clients to check")
        }
        if let record = clients.first(where: { $0.id == attacker }) {
            let largest = record.lanAddresses.map(\.utf8.count).max() ?? 0
            if largest > 1024 {
                return .vulnerable(name, "3.8 MB hello \(answer); registered with LAN addresses of \(largest) bytes, replicated")
            }
            return .refused(name, "3.8 MB hello \(answer); registered without its oversized addresses; data dirs grew \(grown / 1024) KiB")
        }
        if grown > 1 << 20 { return .vulnerable(name, "3.8 MB hello \(answer), not registered, but the data dirs grew \(grown / 1024) KiB") }
        return .refused(name, "3.8 MB hello (64 LAN addresses of 60 KB) \(answer); not in the registry; data dirs grew \(grown / 1024) KiB")
    }

    private func arbitraryCandidates() async -> AttackOutcome {
        let name = "connect-arbitrary-candidates"
        guard let honeypot = Honeypot() else { return .vulnerable(name, "setup: could not open the honeypot sockets") }
        defer { honeypot.close() }
        let arbitraryTCP = [honeypot.tcpAddress, "203.0.113.7:22"]
        let arbitraryUDP = [honeypot.udpAddress, "198.51.100.9:53"]
        let arbitrary = Set(arbitraryTCP + arbitraryUDP)
        // An observer: a raw client that shows what a peer is told.
        guard let observer = try? await HostileClient.dial(context.servers[1].address, secret: context.secret),
              case .welcome? = await observer.hello().push
        else { return .vulnerable(name, "setup: the observer client was not welcomed") }
        defer { observer.close() }
        guard let attacker = try? await HostileClient.dial(context.servers[0].address, secret: context.secret),
              case .welcome? = await attacker.hello().push
        else { return .vulnerable(name, "setup: the attacking client was not welcomed") }
        defer { attacker.close() }
        do {
            try attacker.send(.connect(request: 1, peer: observer.id, tcp: arbitraryTCP, udp: arbitraryUDP))
            try attacker.send(.connect(request: 2, peer: realClient, tcp: arbitraryTCP, udp: arbitraryUDP))
        } catch {
            return .vulnerable(name, "the attacker's link closed before its connect requests: \(error)")
        }
        var told: [String] = []
        var introduced = false
        let deadline = ContinuousClock.now + .seconds(4)
        while ContinuousClock.now < deadline {
            let (push, _) = await observer.nextPush(within: deadline - ContinuousClock.now)
            guard let push else { break }
            if case .introduction(let introduction) = push, introduction.peer == attacker.id {
                introduced = true
                told += introduction.tcp + introduction.udp
            }
        }
        // Give the real client time to act on its introduction.
        try? await Task.sleep(for: .seconds(3))
        let hits = honeypot.hits()
        let leaked = told.filter { arbitrary.contains($0) }
        if !leaked.isEmpty { return .vulnerable(name, "the peer was told to probe the attacker's candidates \(leaked)") }
        if hits.tcp + hits.udp > 0 {
            return .vulnerable(name, "the real client probed the attacker's honeypot (\(hits.tcp) TCP connections, \(hits.udp) datagrams)")
        }
        let observed = !introduced ? "the peer got no introduction"
            : told.isEmpty ? "the peer's introduction named none of the attacker's candidates (none vouched)"
            : "the peer's introduction named only vouched candidates \(told)"
        return .refused(name, "\(observed); the real client sent nothing to the honeypot (0 TCP, 0 UDP)")
    }
}

/// A TCP listener and a UDP socket on loopback that only count what reaches them.
final class Honeypot {
    private let tcp: Int32
    private let udp: Int32
    let tcpAddress: String
    let udpAddress: String

    init?() {
        func bound(_ type: Int32) -> (Int32, Int)? {
            let fd = socket(AF_INET, type | Int32(SOCK_NONBLOCK.rawValue), 0)
            guard fd >= 0 else { return nil }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = 0
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let ok = withUnsafeMutablePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                    bind(fd, generic, length) == 0 && getsockname(fd, generic, &length) == 0
                }
            }
            guard ok else { Glibc.close(fd); return nil }
            return (fd, Int(UInt16(bigEndian: address.sin_port)))
        }
        guard let (tcp, tcpPort) = bound(Int32(SOCK_STREAM.rawValue)) else { return nil }
        guard listen(tcp, 64) == 0, let (udp, udpPort) = bound(Int32(SOCK_DGRAM.rawValue)) else {
            Glibc.close(tcp)
            return nil
        }
        self.tcp = tcp
        self.udp = udp
        tcpAddress = "127.0.0.1:\(tcpPort)"
        udpAddress = "127.0.0.1:\(udpPort)"
    }

    /// Connections and datagrams received so far.
    func hits() -> (tcp: Int, udp: Int) {
        var connections = 0
        while true {
            let fd = accept(tcp, nil, nil)
            guard fd >= 0 else { break }
            connections += 1
            Glibc.close(fd)
        }
        var datagrams = 0
        var buffer = [UInt8](repeating: 0, count: 2048)
        while recv(udp, &buffer, buffer.count, 0) >= 0 { datagrams += 1 }
        return (connections, datagrams)
    }

    func close() {
        Glibc.close(tcp)
        Glibc.close(udp)
    }
}
