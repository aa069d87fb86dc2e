import P2PCore

/// How a ``P2PServer`` starts.
public struct ServerConfiguration: Sendable {
    /// Host to listen on for servers and clients.
    public var listenHost: String = "127.0.0.1"
    /// Port to listen on (0 picks a free port).
    public var listenPort: Int = 7400
    /// The other servers' `host:port` addresses.
    public var peers: [String] = []
    /// Where the server keeps its identity and its LMDB data.
    public var dataDirectory: String = "./p2pcore-data"
    /// The cluster secret: nothing joins the cluster or reads a mailbox without it.
    public var secret: String = "p2pcore-dev-secret"
    /// Called on every leadership change with the new leader's id (`nil`: no leader known).
    public var onLeaderChange: @Sendable (NodeID?) -> Void = { _ in }

    public init() {}
}
