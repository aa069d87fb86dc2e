import CoreMetrics
import P2PCore

/// How a ``P2PClient`` starts.
public struct ClientConfiguration: Sendable {
    /// The servers' `host:port` addresses; the client attaches to up to
    /// ``maximumAttachedServers`` of them.
    public var servers: [String]
    /// How many servers the client attaches to at most (default 3). Which ones is decided per
    /// client by rendezvous hashing of its id with each address in ``servers``: the same ones
    /// across restarts, spread evenly over the servers across clients. While one of them is
    /// unreachable the next-ranked server stands in, until it is back. A cluster larger than
    /// this serves each client from a few servers, so a server's cost grows with its share of
    /// the clients, not with all of them.
    public var maximumAttachedServers: Int = 3
    /// Where the client keeps its identity (and so its id and mailbox) and its delivery ledger.
    public var stateDirectory: String = "./p2pcore-client"
    /// The cluster secret (the client credential; see docs/SECURITY.md).
    public var secret: String = ""
    /// The cluster's fingerprint (its public cluster key, as `p2pcore-server cluster-key` prints
    /// it): only servers that prove this key are trusted. `nil`: the key of the first cluster the
    /// client attaches to is trusted and remembered in the state directory (trust on first use).
    public var clusterKey: String?
    /// Where the client listens for direct links from other clients: TCP for LAN links and UDP
    /// (same port when free) for hole-punched tunnels. A wildcard host reports every IPv4
    /// interface address as a LAN candidate; port 0 picks a free port.
    public var listenHost: String = "0.0.0.0"
    public var listenPort: UInt16 = 0
    /// Whether to reach other clients directly (LAN links, UDP hole punching) when possible.
    /// Off, every message goes through the mailboxes.
    public var directTunnels: Bool = true
    /// How long `send` waits for the recipient's acknowledgement by default.
    public var sendTimeout: Duration = .seconds(30)
    /// How long `start` waits for a first server to accept the client.
    public var startTimeout: Duration = .seconds(10)
    /// How long one attempt to hand a message to a server may take before another is tried.
    public var attemptTimeout: Duration = .seconds(3)
    /// Largest payload `send` accepts (servers enforce their own limit too).
    public var maximumMessageSize: Int = 1 << 20
    /// Where the client reports its metrics (send latency by path, outbox depth; see
    /// ``ClientMetrics``): `nil` (the default) reports to the process's `MetricsSystem`, so an
    /// application's own metrics backend picks them up. The library never bootstraps one.
    public var metricsFactory: (any MetricsFactory)?

    public init(servers: [String]) {
        self.servers = servers
    }
}
