import Foundation
import Synchronization

/// Servers on a public "internet" segment and home LANs behind NAT routers, each host in its own
/// Linux network namespace (root only; needs iproute2 and iptables).
///
/// Layout, with `p` the random ``prefix``:
/// - `pw`: the WAN namespace, holding the bridge `br0` that stands for the internet (203.0.113.0/24).
/// - `ps<i>`: server `i`, with `eth0` = 203.0.113.(10+i) on the WAN bridge.
/// - `pr<l>`: the router of LAN `l`: `wan0` = 203.0.113.(100+l) on the WAN bridge, and the LAN
///   bridge `lan0` = 10.0.(l+1).1/24. It forwards, masquerades on `wan0` (see ``NATKind``) and, like a
///   home router, drops unsolicited inbound traffic on `wan0` (only ESTABLISHED,RELATED gets in).
///   Without that firewall an early hole-punching packet from a peer creates a conntrack entry
///   on the router that makes MASQUERADE pick a different port, and punching fails.
/// - `pl<l>c<i>`: client `i` of LAN `l`, with `eth0` = 10.0.(l+1).(10+i) on the LAN bridge and a
///   default route via its router.
///
/// The names say what the hosts are usually for, not what may run there: a LAN host can run a
/// server behind its LAN's NAT (the servers-behind-NAT test places servers there), and a spare
/// WAN host (``serverNamespaces``) can run clients on the public side.
///
/// Every interface lives inside one of these namespaces (none in the caller's), so interface
/// names are short and fixed, and ``tearDown()`` only has to delete the namespaces.
/// Stop the processes running in the namespaces before tearing down: a namespace that still
/// holds a process loses its name but lives on until that process exits.
public final class MultiLANTopology: Sendable {
    /// How a LAN's router translates addresses on its WAN side.
    public enum NATKind: Sendable {
        /// Endpoint-independent mapping (plain MASQUERADE, which keeps the source port when it can):
        /// a client socket keeps one public ip:port whoever it talks to, so hole punching works.
        case cone
        /// A fresh random public port for every new flow (MASQUERADE --random-fully): the port a
        /// server observes is useless to a peer, so hole punching fails against any peer.
        case symmetric
    }

    /// One LAN: the kind of NAT its router does and how many client hosts sit behind it.
    public struct LANSpec: Sendable {
        /// The router's address translation.
        public var nat: NATKind
        /// The number of client namespaces on this LAN (at most ``maximumClients``).
        public var clients: Int

        /// A LAN of `clients` hosts behind a router doing `nat`.
        public init(nat: NATKind, clients: Int) {
            self.nat = nat
            self.clients = clients
        }
    }

    /// A command run by the topology (or ``run(_:)``) exited non-zero; the description holds its stderr.
    public typealias CommandFailed = ServerNetwork.CommandFailed

    /// The most servers ``create(servers:lans:)`` accepts.
    public static let maximumServers = 90
    /// The most LANs ``create(servers:lans:)`` accepts.
    public static let maximumLANs = 100
    /// The most clients one LAN can have.
    public static let maximumClients = 200

    /// The random prefix of every namespace name of this topology.
    public let prefix: String
    /// The LANs, as requested.
    public let lans: [LANSpec]
    /// The WAN namespace (the one holding the internet bridge).
    public let wanNamespace: String
    /// The server namespaces, in order.
    public let serverNamespaces: [String]
    /// The servers' WAN addresses, in the order of ``serverNamespaces``; servers listen on these.
    public let serverHosts: [String]
    private let tornDown = Mutex(false)

    private static let ipPath = "/usr/sbin/ip"
    private static let iptablesPath = "/usr/sbin/iptables"
    private static let iptablesRestorePath = "/usr/sbin/iptables-restore"
    private static let conntrackPath = "/usr/sbin/conntrack"
    /// The filter chain every packet through `wan0` passes; ``cut(lan:)`` fills it with a DROP.
    private static let cutChain = "CUT"

    /// Why the topology cannot be built here (not root, or iproute2 or iptables missing), or `nil`.
    public static var unavailableReason: String? {
        if getuid() != 0 { return "network namespaces need root" }
        let files = FileManager.default
        if !files.isExecutableFile(atPath: ipPath) { return "iproute2 (\(ipPath)) is not installed" }
        if !files.isExecutableFile(atPath: iptablesPath) || !files.isExecutableFile(atPath: iptablesRestorePath) {
            return "iptables (\(iptablesPath), \(iptablesRestorePath)) is not installed; Scripts/ensure-deps installs it"
        }
        return nil
    }

    /// Builds `servers` servers on the WAN and one NATed LAN per element of `lans`.
    ///
    /// Either the whole topology is up when this returns, or everything made so far is removed
    /// again and the error is thrown.
    public static func create(servers: Int, lans: [LANSpec]) throws -> MultiLANTopology {
        precondition((0...maximumServers).contains(servers), "MultiLANTopology: 0...\(maximumServers) servers")
        precondition(lans.count <= maximumLANs, "MultiLANTopology: at most \(maximumLANs) LANs")
        precondition(lans.allSatisfy { (0...maximumClients).contains($0.clients) }, "MultiLANTopology: 0...\(maximumClients) clients per LAN")
        if let reason = unavailableReason { throw CommandFailed(description: "MultiLANTopology: \(reason)") }
        let tag = String(UInt32.random(in: 0x10_0000...0xFF_FFFF), radix: 16)
        let topology = MultiLANTopology(prefix: "ml\(tag)", servers: servers, lans: lans)
        var made: [String] = []
        do {
            try topology.setUp(made: &made)
        } catch {
            // Only what this call made: a name that already existed may belong to another run.
            for namespace in made.reversed() { try? ip("netns", "del", namespace) }
            topology.tornDown.withLock { $0 = true }
            throw error
        }
        return topology
    }

    private init(prefix: String, servers: Int, lans: [LANSpec]) {
        self.prefix = prefix
        self.lans = lans
        wanNamespace = "\(prefix)w"
        serverNamespaces = (0..<servers).map { "\(prefix)s\($0)" }
        serverHosts = (0..<servers).map { "203.0.113.\(10 + $0)" }
    }

    /// The namespace of client `index` on LAN `lan` (both 0-based): a host behind the LAN's NAT
    /// (any process can run there, a server too).
    public func clientNamespace(lan: Int, index: Int) -> String {
        checkClient(lan: lan, index: index)
        return "\(prefix)l\(lan)c\(index)"
    }

    /// The LAN address of client `index` on LAN `lan` (both 0-based).
    public func clientHost(lan: Int, index: Int) -> String {
        checkClient(lan: lan, index: index)
        return "10.0.\(lan + 1).\(10 + index)"
    }

    /// The namespace of LAN `lan`'s router.
    public func routerNamespace(lan: Int) -> String {
        checkLAN(lan)
        return "\(prefix)r\(lan)"
    }

    /// The public (WAN) address of LAN `lan`'s router: the source servers see for its clients.
    public func routerPublicHost(lan: Int) -> String {
        checkLAN(lan)
        return "203.0.113.\(100 + lan)"
    }

    /// The router's address on LAN `lan` (its clients' default gateway).
    public func routerLANHost(lan: Int) -> String {
        checkLAN(lan)
        return "10.0.\(lan + 1).1"
    }

    /// Every namespace of this topology.
    public var allNamespaces: [String] {
        var names = [wanNamespace] + serverNamespaces
        for (lan, spec) in lans.enumerated() {
            names.append(routerNamespace(lan: lan))
            names += (0..<spec.clients).map { clientNamespace(lan: lan, index: $0) }
        }
        return names
    }

    /// LAN `lan`'s router stops passing anything between the LAN and the WAN, both ways (its
    /// clients still reach each other and the router). Packets are dropped silently, like an
    /// upstream outage: the router keeps its NAT mappings, so flows that are still alive when
    /// ``restore(lan:)`` runs carry on; ``flushNATState(lan:)`` forgets them too. Idempotent.
    public func cut(lan: Int) throws {
        let router = routerNamespace(lan: lan)
        try Self.iptables(router, "-F", Self.cutChain)
        try Self.iptables(router, "-A", Self.cutChain, "-j", "DROP")
    }

    /// Undoes ``cut(lan:)``: the NAT and firewall rules are as they were built. Idempotent.
    public func restore(lan: Int) throws {
        try Self.iptables(routerNamespace(lan: lan), "-F", Self.cutChain)
    }

    /// LAN `lan`'s router forgets every connection it tracks, NAT mappings included, as after a
    /// reboot (needs `conntrack`, which Scripts/ensure-deps installs).
    public func flushNATState(lan: Int) throws {
        try Self.run([Self.ipPath, "netns", "exec", routerNamespace(lan: lan), Self.conntrackPath, "-F"])
    }

    /// Removes every namespace (and so every link) of this topology. Idempotent.
    public func tearDown() {
        let first = tornDown.withLock { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        for namespace in allNamespaces.reversed() { try? Self.ip("netns", "del", namespace) }
    }

    // MARK: Building

    private func setUp(made: inout [String]) throws {
        try addNamespace(wanNamespace, made: &made)
        try Self.ip("-n", wanNamespace, "link", "add", "br0", "type", "bridge")
        try Self.ip("-n", wanNamespace, "link", "set", "br0", "up")

        for (index, server) in serverNamespaces.enumerated() {
            try addNamespace(server, made: &made)
            try Self.ip("link", "add", "s\(index)", "netns", wanNamespace, "type", "veth", "peer", "name", "eth0", "netns", server)
            try Self.ip("-n", wanNamespace, "link", "set", "s\(index)", "master", "br0", "up")
            try Self.ip("-n", server, "addr", "add", "\(serverHosts[index])/24", "dev", "eth0")
            try Self.ip("-n", server, "link", "set", "eth0", "up")
            // Everything beyond the WAN subnet is "elsewhere on the internet" (lets a program find
            // its outbound address by connecting a UDP socket to any public address).
            try Self.ip("-n", server, "route", "add", "default", "dev", "eth0")
        }

        for (lan, spec) in lans.enumerated() {
            let router = routerNamespace(lan: lan)
            try addNamespace(router, made: &made)
            try Self.ip("link", "add", "r\(lan)", "netns", wanNamespace, "type", "veth", "peer", "name", "wan0", "netns", router)
            try Self.ip("-n", wanNamespace, "link", "set", "r\(lan)", "master", "br0", "up")
            try Self.ip("-n", router, "addr", "add", "\(routerPublicHost(lan: lan))/24", "dev", "wan0")
            try Self.ip("-n", router, "link", "set", "wan0", "up")
            try Self.ip("-n", router, "route", "add", "default", "dev", "wan0")
            try Self.ip("-n", router, "link", "add", "lan0", "type", "bridge")
            try Self.ip("-n", router, "addr", "add", "\(routerLANHost(lan: lan))/24", "dev", "lan0")
            try Self.ip("-n", router, "link", "set", "lan0", "up")
            try Self.run([Self.ipPath, "netns", "exec", router, "/bin/sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward"])
            try installRules(router: router, nat: spec.nat)

            for index in 0..<spec.clients {
                let client = clientNamespace(lan: lan, index: index)
                try addNamespace(client, made: &made)
                try Self.ip("link", "add", "c\(index)", "netns", router, "type", "veth", "peer", "name", "eth0", "netns", client)
                try Self.ip("-n", router, "link", "set", "c\(index)", "master", "lan0", "up")
                try Self.ip("-n", client, "addr", "add", "\(clientHost(lan: lan, index: index))/24", "dev", "eth0")
                try Self.ip("-n", client, "link", "set", "eth0", "up")
                try Self.ip("-n", client, "route", "add", "default", "via", routerLANHost(lan: lan))
            }
        }
    }

    private func addNamespace(_ name: String, made: inout [String]) throws {
        try Self.ip("netns", "add", name)
        made.append(name)
        try Self.ip("-n", name, "link", "set", "lo", "up")
    }

    /// NAT on `wan0` and a home router's firewall, loaded in one `iptables-restore`.
    private func installRules(router: String, nat: NATKind) throws {
        let masquerade = nat == .symmetric ? "MASQUERADE --random-fully" : "MASQUERADE"
        let rules = """
            *nat
            -A POSTROUTING -o wan0 -j \(masquerade)
            COMMIT
            *filter
            :\(Self.cutChain) - [0:0]
            -A INPUT -i wan0 -j \(Self.cutChain)
            -A INPUT -i wan0 -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
            -A INPUT -i wan0 -j DROP
            -A FORWARD -i wan0 -j \(Self.cutChain)
            -A FORWARD -o wan0 -j \(Self.cutChain)
            -A FORWARD -i wan0 -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
            -A FORWARD -i wan0 -j DROP
            -A OUTPUT -o wan0 -j \(Self.cutChain)
            COMMIT

            """
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("\(router).rules").path
        try rules.write(toFile: file, atomically: false, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        try Self.run([Self.ipPath, "netns", "exec", router, Self.iptablesRestorePath, file])
    }

    private func checkLAN(_ lan: Int) {
        precondition(lans.indices.contains(lan), "MultiLANTopology: no LAN \(lan) (have \(lans.count))")
    }

    private func checkClient(lan: Int, index: Int) {
        checkLAN(lan)
        precondition((0..<lans[lan].clients).contains(index), "MultiLANTopology: LAN \(lan) has no client \(index)")
    }

    // MARK: Commands

    private static func ip(_ arguments: String...) throws {
        try run([ipPath] + arguments)
    }

    private static func iptables(_ namespace: String, _ arguments: String...) throws {
        try run([ipPath, "netns", "exec", namespace, iptablesPath] + arguments)
    }

    /// Runs `argv` (`argv[0]` an absolute path) with stdin and stdout on /dev/null and waits for it;
    /// throws ``CommandFailed`` with the command line, its exit status and its stderr unless it exits 0.
    public static func run(_ argv: [String]) throws {
        guard let path = argv.first else { throw CommandFailed(description: "run: empty command line") }
        let commandLine = argv.joined(separator: " ")

        // stderr goes to an unlinked temporary file opened close-on-exec (a pipe's write end
        // could leak into a process another thread spawns meanwhile and hold off our EOF).
        let errorPath = FileManager.default.temporaryDirectory.appendingPathComponent("mlt-\(UUID().uuidString).err").path
        let errorFile = open(errorPath, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard errorFile >= 0 else {
            throw CommandFailed(description: "cannot run \(commandLine): \(errorPath): \(String(cString: strerror(errno)))")
        }
        unlink(errorPath)
        defer { close(errorFile) }

        var pointers: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for pointer in pointers { free(pointer) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, errorFile, 2)

        var child: pid_t = 0
        let spawned = posix_spawn(&child, path, &actions, nil, &pointers, environ)
        guard spawned == 0 else {
            throw CommandFailed(description: "cannot run \(commandLine): \(String(cString: strerror(spawned)))")
        }

        var status: Int32 = 0
        while waitpid(child, &status, 0) < 0 {
            guard errno == EINTR else {
                throw CommandFailed(description: "\(commandLine): waitpid: \(String(cString: strerror(errno)))")
            }
        }
        guard status != 0 else { return }
        var stderrBytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        var offset: off_t = 0
        while stderrBytes.count < 64 * 1024 {
            let count = buffer.withUnsafeMutableBytes { pread(errorFile, $0.baseAddress, $0.count, offset) }
            if count > 0 {
                stderrBytes += buffer[0..<count]
                offset += off_t(count)
            } else if count == 0 || errno != EINTR {
                break
            }
        }
        let signal = status & 0x7F
        let outcome = signal == 0 ? "exit \((status >> 8) & 0xFF)" : "signal \(signal)"
        let message = String(decoding: stderrBytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        throw CommandFailed(description: "\(commandLine) failed (\(outcome))\(message.isEmpty ? "" : ": \(message)")")
    }
}

/// Shorthand for ``MultiLANTopology/NATKind``.
public typealias NATKind = MultiLANTopology.NATKind
/// Shorthand for ``MultiLANTopology/LANSpec``.
public typealias LANSpec = MultiLANTopology.LANSpec
