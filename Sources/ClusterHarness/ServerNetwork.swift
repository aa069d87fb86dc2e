import Foundation

/// One network namespace per server, joined by a bridge in the caller's namespace (root only).
///
/// Servers listen on `10.N.0.(10+i)`; clients in the caller's namespace reach them through the
/// bridge. ``partition(_:_:)`` cuts two servers apart with blackhole routes in both namespaces
/// (no firewall needed), ``heal(_:_:)`` joins them again. Names carry a random prefix so that
/// concurrent runs never collide; ``tearDown()`` removes everything.
public final class ServerNetwork: Sendable {
    public let prefix: String
    public let namespaces: [String]
    public let hosts: [String]
    private let bridge: String

    public struct CommandFailed: Error, CustomStringConvertible {
        public let description: String
    }

    /// Network namespaces can be made here (root, with iproute2).
    public static var isAvailable: Bool {
        getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip")
    }

    /// Why namespaces cannot be used here, or `nil`.
    public static var unavailableReason: String? {
        if getuid() != 0 { return "network namespaces need root" }
        if !FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") { return "iproute2 (/usr/sbin/ip) is not installed" }
        return nil
    }

    public static func create(servers: Int) throws -> ServerNetwork {
        let tag = String(UInt32.random(in: 0..<0xFFFF), radix: 16)
        let subnet = Int.random(in: 100...250)
        let network = ServerNetwork(prefix: "p2p\(tag)", count: servers, subnet: subnet)
        do {
            try network.setUp(subnet: subnet)
        } catch {
            network.tearDown()
            throw error
        }
        return network
    }

    private init(prefix: String, count: Int, subnet: Int) {
        self.prefix = prefix
        bridge = "\(prefix)br"
        namespaces = (0..<count).map { "\(prefix)s\($0 + 1)" }
        hosts = (0..<count).map { "10.\(subnet).0.\(10 + $0)" }
    }

    private func setUp(subnet: Int) throws {
        try Self.ip("link", "add", bridge, "type", "bridge")
        try Self.ip("addr", "add", "10.\(subnet).0.1/24", "dev", bridge)
        try Self.ip("link", "set", bridge, "up")
        for (index, namespace) in namespaces.enumerated() {
            let veth = "\(prefix)v\(index + 1)"
            try Self.ip("netns", "add", namespace)
            try Self.ip("-n", namespace, "link", "set", "lo", "up")
            try Self.ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", namespace)
            try Self.ip("link", "set", veth, "master", bridge, "up")
            try Self.ip("-n", namespace, "addr", "add", "\(hosts[index])/24", "dev", "eth0")
            try Self.ip("-n", namespace, "link", "set", "eth0", "up")
        }
    }

    /// Cuts servers `a` and `b` apart (both directions); each still reaches the others and the clients.
    public func partition(_ a: Int, _ b: Int) throws {
        try Self.ip("-n", namespaces[a], "route", "add", "blackhole", "\(hosts[b])/32")
        try Self.ip("-n", namespaces[b], "route", "add", "blackhole", "\(hosts[a])/32")
    }

    public func heal(_ a: Int, _ b: Int) {
        try? Self.ip("-n", namespaces[a], "route", "del", "blackhole", "\(hosts[b])/32")
        try? Self.ip("-n", namespaces[b], "route", "del", "blackhole", "\(hosts[a])/32")
    }

    public func tearDown() {
        for namespace in namespaces { try? Self.ip("netns", "del", namespace) }
        try? Self.ip("link", "del", bridge)
    }

    private static func ip(_ arguments: String...) throws {
        let argv = ["/usr/sbin/ip"] + arguments
        var pointers: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for pointer in pointers { free(pointer) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        var child: pid_t = 0
        guard posix_spawn(&child, argv[0], &actions, nil, &pointers, environ) == 0 else {
            throw CommandFailed(description: "cannot run \(argv.joined(separator: " "))")
        }
        var status: Int32 = 0
        waitpid(child, &status, 0)
        guard status == 0 else { throw CommandFailed(description: "\(argv.joined(separator: " ")) failed (status \(status))") }
    }
}
