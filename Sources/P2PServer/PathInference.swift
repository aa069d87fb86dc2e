import AdminProtocol
import P2PCore

/// The pure part of path diagnostics: what the servers' observations say about a client's NAT
/// (``natReport(client:observations:lanAddresses:online:)``), and why a pair is or is not
/// direct (``diagnose(a:b:reports:)``). No I/O, no clocks: ages and times come in as inputs.
enum PathInference {
    /// Observations older than this are left out when fresher ones exist (a mapping may have
    /// changed since: a router restart, a NAT table flush).
    static let freshness: Double = 60

    /// Infers a client's NAT from the mappings servers observed for its UDP socket.
    ///
    /// A mapping on one of the client's own addresses means no translation towards that server.
    /// Translated mappings that differ between servers (in port or address) mean an
    /// endpoint-dependent mapping (a symmetric NAT); the same mapping at two or more servers
    /// means an endpoint-independent one (a cone NAT).
    static func natReport(client: NodeID, observations: [MappingObservation], lanAddresses: [String], online: Bool) -> ClientNATReport {
        let own = observations.filter { $0.client == client }
        let fresh = own.filter { $0.ageSeconds <= freshness }
        let used = (fresh.isEmpty ? own : fresh).sorted { $0.server < $1.server }
        let (behaviour, explanation) = infer(used, lanAddresses: lanAddresses)
        return ClientNATReport(client: client, behaviour: behaviour, observations: used, lanAddresses: lanAddresses, online: online, explanation: explanation)
    }

    private static func infer(_ observations: [MappingObservation], lanAddresses: [String]) -> (NATBehaviour, String) {
        guard !observations.isEmpty else { return (.unknown, "no server observed its UDP socket") }
        let lanHosts = Set(lanAddresses.compactMap { HostPort($0)?.host })
        let translated = observations.filter { !lanHosts.contains(HostPort($0.mapping)?.host ?? $0.mapping) }
        func seen(_ list: [MappingObservation]) -> String {
            list.map { "\(short($0.server)) saw \($0.mapping)" }.joined(separator: ", ")
        }
        if translated.isEmpty {
            return (.noNAT, "servers saw it at its own address (\(seen(observations)))")
        }
        let distinct = Set(translated.map(\.mapping))
        if distinct.count > 1 {
            return (.endpointDependent, "servers observed different mappings for one socket (\(seen(translated))): a new mapping per destination")
        }
        if translated.count >= 2 {
            return (.endpointIndependent, "\(translated.count) servers observed the same mapping \(translated[0].mapping): one mapping for every destination")
        }
        return (.undetermined, "translated (\(seen(translated))), but only one server observed it")
    }

    /// Why clients `a` and `b` are or are not direct, from their NATs and what either reported
    /// about the pair (the newest report tells the path).
    static func diagnose(a: ClientNATReport, b: ClientNATReport, reports: [PairPathReport]) -> PairPathDiagnosis {
        let pair = reports.filter { ($0.reporter == a.client && $0.peer == b.client) || ($0.reporter == b.client && $0.peer == a.client) }
        // The newest report of each side.
        var newest: [NodeID: PairPathReport] = [:]
        for report in pair where (newest[report.reporter]?.reportedAtMillis ?? 0) <= report.reportedAtMillis {
            newest[report.reporter] = report
        }
        let kept = newest.values.sorted { $0.reportedAtMillis > $1.reportedAtMillis }
        let path = kept.first?.path ?? .relay
        return PairPathDiagnosis(a: a, b: b, path: path, reports: kept, verdict: verdict(a: a, b: b, path: path, reports: kept))
    }

    private static func verdict(a: ClientNATReport, b: ClientNATReport, path: PairPathKind, reports: [PairPathReport]) -> String {
        let measured = reports.first { $0.path == path && $0.rttMillis != nil }
        let quality = measured.map { report in
            "; rtt \(format(report.rttMillis ?? 0)) ms" + (report.lossPercent.map { ", loss \(format($0))%" } ?? "")
        } ?? ""
        switch path {
        case .lan:
            return "direct: a TCP link on their shared LAN\(quality)"
        case .udp:
            let natted = [a, b].filter { $0.behaviour != .noNAT }.count
            let how = natted == 0 ? "a UDP tunnel (no NAT between them)" : "a UDP tunnel hole-punched through \(natted == 2 ? "both NATs" : "one NAT")"
            return "direct: \(how)\(quality)"
        case .relay:
            break
        }
        let symmetric = [a, b].filter { $0.behaviour == .endpointDependent }
        if symmetric.count == 2 {
            return "relayed: \(a.client) and \(b.client) are both behind endpoint-dependent (symmetric) NATs; hole punching cannot predict their ports"
        }
        if let client = symmetric.first {
            return "relayed: \(client.client) is behind an endpoint-dependent (symmetric) NAT; hole punching cannot predict its port"
        }
        if let offline = [a, b].first(where: { !$0.online }) {
            return "relayed: \(offline.client) is offline"
        }
        let attempts = reports.compactMap(\.lastAttempt).sorted { $0.atMillis > $1.atMillis }
        if let last = attempts.first, !last.succeeded {
            return "relayed: the last direct attempt (\(last.kind)) failed: \(last.reason)"
        }
        if reports.isEmpty { return "relayed: neither client reported a direct path or an attempt (they try once they have traffic for each other)" }
        return "relayed: no direct path now"
    }

    static func short(_ id: NodeID) -> String { String("\(id)".prefix(8)) }

    private static func format(_ value: Double) -> String {
        let rounded = (value * 10).rounded() / 10
        // The value may be a peer's report: only what fits an Int is printed as one.
        if rounded == rounded.rounded(), let whole = Int(exactly: rounded) { return "\(whole)" }
        return "\(rounded)"
    }
}
