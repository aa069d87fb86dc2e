import AdminProtocol
import ClientProtocol
import P2PCore
import Synchronization

/// What clients told this server about their paths to peers (``ClientRequest/pathReport(_:)``):
/// untrusted diagnostics, kept in memory only (not replicated) and bounded — one report per
/// client (its newest replaces the last), at most ``PathReport/maximumPeers`` pairs in it, at
/// most ``maximumClients`` clients (the stalest is forgotten first). A client speaks only for
/// its own pairs: the reports are keyed by its proven id.
final class PathReports: Sendable {
    /// Clients whose reports are kept at once.
    static let maximumClients = 4096
    /// The least time between two reports taken from one client link (more are dropped).
    static let minimumInterval: Duration = .milliseconds(500)

    private struct Entry {
        var receivedAtMillis: UInt64
        var reports: [PairPathReport]
    }

    private let entries = Mutex<[NodeID: Entry]>([:])
    let server: NodeID
    let capacity: Int

    init(server: NodeID, capacity: Int = PathReports.maximumClients) {
        self.server = server
        self.capacity = capacity
    }

    /// Takes `reports` from `client` (received at `nowMillis`, by this server's clock): pairs
    /// with itself and repeated peers are dropped, and beyond ``PathReport/maximumPeers`` too.
    func record(_ reports: [PathReport], from client: NodeID, nowMillis: UInt64) {
        var seen: Set<NodeID> = []
        let kept = reports.filter { $0.peer != client && seen.insert($0.peer).inserted }.prefix(PathReport.maximumPeers)
        let converted = kept.map { Self.convert($0, from: client, server: server, nowMillis: nowMillis) }
        entries.withLock { entries in
            entries[client] = Entry(receivedAtMillis: nowMillis, reports: converted)
            if entries.count > capacity, let stalest = entries.min(by: { $0.value.receivedAtMillis < $1.value.receivedAtMillis })?.key {
                entries[stalest] = nil
            }
        }
    }

    /// The reports of `clients` (every client when `nil`).
    func reports(of clients: [NodeID]? = nil) -> [PairPathReport] {
        entries.withLock { entries in
            guard let clients else { return entries.values.flatMap(\.reports) }
            return clients.flatMap { entries[$0]?.reports ?? [] }
        }
    }

    var clientCount: Int { entries.withLock { $0.count } }

    static func convert(_ report: PathReport, from client: NodeID, server: NodeID, nowMillis: UInt64) -> PairPathReport {
        let path: PairPathKind = switch report.path {
        case .relay: .relay
        case .lan: .lan
        case .udp: .udp
        }
        let attempt = report.lastAttempt.map { attempt in
            PathAttemptReport(
                atMillis: nowMillis - min(nowMillis, attempt.agoMillis), kind: attempt.kind.name,
                succeeded: attempt.succeeded, reason: attempt.reason
            )
        }
        return PairPathReport(
            reporter: client, peer: report.peer, path: path,
            rttMillis: report.rttMicros.map { Double($0) / 1000 }, lossPercent: report.lossPerMille.map { Double($0) / 10 },
            lastAttempt: attempt, reportedAtMillis: nowMillis, server: server
        )
    }
}
