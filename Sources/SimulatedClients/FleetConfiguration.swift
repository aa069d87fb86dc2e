import P2PCore

/// How a fleet of simulated clients reaches its cluster.
public struct FleetConfiguration: Sendable {
    /// The servers' `host:port`; every client attaches to each, as a real client does.
    public var servers: [String]
    /// The cluster secret (the client credential).
    public var secret: String
    /// The cluster key the clients trust (its 32-byte public half): a welcome must prove it, as
    /// for a real client configured with `ClientConfiguration.clusterKey`.
    public var clusterKey: [UInt8]
    /// Whether each client observes its UDP mapping as the real client does: one UDP socket per
    /// client, each server asked in turn, every `observationInterval` (every second until a
    /// first answer).
    public var observeUDP = true
    public var observationInterval: Duration = .seconds(5)
    /// How long one relay attempt (send → the server's answer) may take before another server is tried.
    public var attemptTimeout: Duration = .seconds(3)

    public init(servers: [String], secret: String, clusterKey: [UInt8]) {
        self.servers = servers
        self.secret = secret
        self.clusterKey = clusterKey
    }
}
