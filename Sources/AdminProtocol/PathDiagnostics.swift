import P2PCore

/// How a client's NAT maps its UDP socket (RFC 4787 terms), as the servers infer it from the
/// public mappings each of them observed for the client's socket.
public enum NATBehaviour: String, Codable, Equatable, Sendable, CaseIterable {
    /// The observed mapping is on one of the client's own addresses: nothing translates.
    case noNAT = "no-nat"
    /// Every server observed the same mapping (a "cone" NAT): hole punching can work.
    case endpointIndependent = "endpoint-independent"
    /// Servers observed different mappings (a "symmetric" NAT): the port a peer would need is
    /// unpredictable, so hole punching fails.
    case endpointDependent = "endpoint-dependent"
    /// Translated, but only one server observed it yet: the mapping behaviour is not known.
    case undetermined = "nat-undetermined"
    /// No server observed the client's UDP socket (offline, UDP blocked, or direct paths off).
    case unknown

    /// A short phrase for people ("endpoint-dependent (symmetric) NAT").
    public var phrase: String {
        switch self {
        case .noNAT: "no NAT"
        case .endpointIndependent: "endpoint-independent (cone) NAT"
        case .endpointDependent: "endpoint-dependent (symmetric) NAT"
        case .undetermined: "NAT of undetermined mapping behaviour (observed by one server only)"
        case .unknown: "unknown (no server observed its UDP socket)"
        }
    }
}

/// One server's observation of one client's public UDP mapping.
public struct MappingObservation: Codable, Equatable, Sendable {
    public var client: NodeID
    /// The server that observed it.
    public var server: NodeID
    /// The client's socket as the server saw it (`ip:port`).
    public var mapping: String
    /// Seconds since the server last observed it.
    public var ageSeconds: Double

    public init(client: NodeID, server: NodeID, mapping: String, ageSeconds: Double) {
        self.client = client
        self.server = server
        self.mapping = mapping
        self.ageSeconds = ageSeconds
    }
}

/// One client's NAT, as the servers infer it.
public struct ClientNATReport: Codable, Equatable, Sendable {
    public var client: NodeID
    public var behaviour: NATBehaviour
    /// What each server that observed the client saw (one per server).
    public var observations: [MappingObservation]
    /// The addresses on the client's own interfaces (from its registration).
    public var lanAddresses: [String]
    /// Whether the client is attached to some server.
    public var online: Bool
    /// Why the servers conclude ``behaviour`` (one line).
    public var explanation: String

    public init(client: NodeID, behaviour: NATBehaviour, observations: [MappingObservation], lanAddresses: [String], online: Bool, explanation: String) {
        self.client = client
        self.behaviour = behaviour
        self.observations = observations
        self.lanAddresses = lanAddresses
        self.online = online
        self.explanation = explanation
    }
}

/// How a pair's messages travel.
public enum PairPathKind: String, Codable, Equatable, Sendable {
    /// A direct TCP link on a shared LAN.
    case lan
    /// A direct reliable-datagram tunnel over UDP (hole-punched, or straight).
    case udp
    /// Through the servers' mailboxes.
    case relay
}

/// A client's last attempt at a direct path to a peer, as it reported it.
public struct PathAttemptReport: Codable, Equatable, Sendable {
    /// When it ended (milliseconds since 1970, by the receiving server's clock).
    public var atMillis: UInt64
    /// What was tried: `lan`, `udp` or `lan+udp`.
    public var kind: String
    public var succeeded: Bool
    /// What happened ("no UDP reply from 203.0.113.103:40112 within 3 s").
    public var reason: String

    public init(atMillis: UInt64, kind: String, succeeded: Bool, reason: String) {
        self.atMillis = atMillis
        self.kind = kind
        self.succeeded = succeeded
        self.reason = reason
    }
}

/// What one client said about its path to one peer. Client-reported: untrusted diagnostics,
/// bounded in size and rate, kept only in the memory of the server that received it.
public struct PairPathReport: Codable, Equatable, Sendable {
    /// Where the data comes from: always `client-reported`.
    public var source: String = "client-reported"
    /// The client that reported it (its proven id): a client reports only its own pairs.
    public var reporter: NodeID
    public var peer: NodeID
    public var path: PairPathKind
    /// Round-trip time of the direct path, when there is one.
    public var rttMillis: Double?
    /// Share of keepalive probes on the direct path left unanswered lately (0…100).
    public var lossPercent: Double?
    public var lastAttempt: PathAttemptReport?
    /// When the server received the report (milliseconds since 1970).
    public var reportedAtMillis: UInt64
    /// The server that received (and holds) the report.
    public var server: NodeID

    public init(
        reporter: NodeID, peer: NodeID, path: PairPathKind, rttMillis: Double?, lossPercent: Double?,
        lastAttempt: PathAttemptReport?, reportedAtMillis: UInt64, server: NodeID
    ) {
        self.reporter = reporter
        self.peer = peer
        self.path = path
        self.rttMillis = rttMillis
        self.lossPercent = lossPercent
        self.lastAttempt = lastAttempt
        self.reportedAtMillis = reportedAtMillis
        self.server = server
    }
}

/// Why a pair of clients is or is not direct (`mailbox-admin path <a> <b>`).
public struct PairPathDiagnosis: Codable, Equatable, Sendable {
    public var a: ClientNATReport
    public var b: ClientNATReport
    /// The path as the clients last reported it (``PairPathKind/relay`` when neither did).
    public var path: PairPathKind
    /// What each side reported about the pair (client-reported; newest per side).
    public var reports: [PairPathReport]
    /// One line: why the pair is direct or relayed.
    public var verdict: String

    public init(a: ClientNATReport, b: ClientNATReport, path: PairPathKind, reports: [PairPathReport], verdict: String) {
        self.a = a
        self.b = b
        self.path = path
        self.reports = reports
        self.verdict = verdict
    }
}

/// What one server knows about paths: the mappings it observed and the pair reports clients
/// sent it (what servers gather from each other for ``PairPathDiagnosis`` and ``PathOverview``).
public struct PathFacts: Codable, Equatable, Sendable {
    public var server: NodeID
    public var mappings: [MappingObservation]
    public var reports: [PairPathReport]

    public init(server: NodeID, mappings: [MappingObservation], reports: [PairPathReport]) {
        self.server = server
        self.mappings = mappings
        self.reports = reports
    }
}

/// Every client's inferred NAT and every pair's reported path, as the cluster knows them now.
public struct PathOverview: Codable, Equatable, Sendable {
    public var clients: [ClientNATReport]
    /// The newest report of each (reporter, peer) pair (client-reported).
    public var pairs: [PairPathReport]
    /// Servers that did not answer while gathering (their observations are missing).
    public var unreachableServers: [NodeID]

    public init(clients: [ClientNATReport], pairs: [PairPathReport], unreachableServers: [NodeID]) {
        self.clients = clients
        self.pairs = pairs
        self.unreachableServers = unreachableServers
    }
}
