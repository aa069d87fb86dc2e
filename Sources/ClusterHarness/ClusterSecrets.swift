import P2PCore

/// The three credentials of a cluster (docs/SECURITY.md): the cluster secret every client
/// holds, the server secret only servers hold, and the admin secret of remote operators.
public struct ClusterSecrets: Sendable, Equatable {
    public var cluster: String
    public var server: String
    public var admin: String

    public init(cluster: String, server: String, admin: String) {
        self.cluster = cluster
        self.server = server
        self.admin = admin
    }

    /// Three fresh 256-bit secrets.
    public static func generate() -> ClusterSecrets {
        ClusterSecrets(cluster: Secret.generate(), server: Secret.generate(), admin: Secret.generate())
    }

    /// How a server process receives them: in its environment, never on its command line
    /// (which every user can read in /proc). An empty admin secret is left out (no remote admin).
    public var environment: [String: String] {
        var environment = ["P2PCORE_SECRET": cluster, "P2PCORE_SERVER_SECRET": server]
        if !admin.isEmpty { environment["P2PCORE_ADMIN_SECRET"] = admin }
        return environment
    }
}
