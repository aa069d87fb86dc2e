import AdminProtocol
import ClusterHarness
import Foundation
#if canImport(CDispatch)
// `stat` reaches this module through Dispatch's C headers too (via the monitor's HTTP stack).
import CDispatch
#endif
import P2PCore
import Synchronization
import Transport

/// One server under attack.
struct ServerTarget: Sendable {
    let name: String
    let address: HostPort
    let pid: Int32
    let dataDirectory: String
}

/// How long `mailbox-admin status` took and what it said.
struct StatusCheck: Sendable {
    let elapsed: Duration
    let status: ClusterStatus?
    let failure: String?

    /// Answered, healthy, in under a second.
    var passes: Bool { failure == nil && elapsed < .seconds(1) && status?.healthy == true }

    var summary: String {
        if let failure { return "status failed after \(elapsed.wholeMilliseconds) ms: \(failure)" }
        return "status \(elapsed.wholeMilliseconds) ms \(status?.healthy == true ? "healthy" : "UNHEALTHY")"
    }
}

/// What every attack needs: the servers, the credentials a client has (and the operator's, to
/// check what the attacks changed), memory sampling and the report's running totals.
final class AttackContext: Sendable {
    let servers: [ServerTarget]
    /// The cluster secret: the client credential, which every attacker is assumed to hold.
    let secret: String
    /// The operator's credential (used only to observe the cluster, never to attack it).
    let adminSecret: String
    let adminBinary: String
    let sampler: MemorySampler
    /// Each server's RSS before the attacks.
    let idleRSS: [String: Int]
    let options: AttackOptions
    private let totals = Mutex(Totals())

    struct Totals {
        var peakRSS = 0
        var worstRatio = 0.0
        var lastStatus: StatusCheck?
    }

    init(servers: [ServerTarget], secret: String, adminSecret: String, adminBinary: String, idleRSS: [String: Int], options: AttackOptions) {
        self.servers = servers
        self.secret = secret
        self.adminSecret = adminSecret
        self.adminBinary = adminBinary
        self.idleRSS = idleRSS
        self.options = options
        sampler = MemorySampler(pids: servers.map { ($0.name, $0.pid) })
    }

    var summaryTotals: Totals { totals.withLock { $0 } }

    /// The server with the smallest idle RSS: single-target memory attacks aim at it, where
    /// growth weighs most against the 2× bound.
    var smallestServer: ServerTarget {
        servers.min { (idleRSS[$0.name] ?? 0) < (idleRSS[$1.name] ?? 0) } ?? servers[0]
    }

    /// The worst server's peak RSS as a multiple of its idle RSS.
    func worst(_ peaks: [String: Int]) -> (server: String, peak: Int, ratio: Double) {
        var worst = (server: "-", peak: 0, ratio: 0.0)
        for (name, peak) in peaks {
            let ratio = Double(peak) / Double(max(1, idleRSS[name] ?? 1))
            if ratio > worst.ratio { worst = (name, peak, ratio) }
        }
        totals.withLock { totals in
            totals.peakRSS = max(totals.peakRSS, peaks.values.max() ?? 0)
            totals.worstRatio = max(totals.worstRatio, worst.ratio)
        }
        return worst
    }

    /// Runs the built `mailbox-admin status --json` against `server` (remotely, with the admin
    /// secret in its environment, or through the server's local admin socket), and times it.
    func status(via server: ServerTarget, localSocket: Bool = false) async -> StatusCheck {
        let environment = ["P2PCORE_ADMIN_SECRET": adminSecret]
        let target = localSocket ? ["--data-dir", server.dataDirectory] : ["--server", server.address.description]
        let check: StatusCheck
        do {
            let run = try await ProcessRunner.run([adminBinary, "status", "--json", "--timeout", "5"] + target, environment: environment)
            if let status = try? JSONDecoder().decode(ClusterStatus.self, from: Data(run.stdout.utf8)) {
                check = StatusCheck(elapsed: run.elapsed, status: status, failure: nil)
            } else {
                check = StatusCheck(elapsed: run.elapsed, status: nil, failure: "exit \(run.code), no status on stdout")
            }
        } catch {
            check = StatusCheck(elapsed: .zero, status: nil, failure: "\(error)")
        }
        totals.withLock { $0.lastStatus = check }
        return check
    }

    /// An operator request (to observe what an attack changed), with the admin secret.
    func operatorRequest(_ request: AdminRequest, via server: ServerTarget? = nil) async throws -> AdminResponse {
        let target = server ?? servers[0]
        let client = try await AdminClient.connect(to: target.address, adminSecret: adminSecret, timeout: .seconds(5))
        defer { client.close() }
        return try await client.request(request, timeout: .seconds(10))
    }

    /// The highest Raft term any server reports, and the leader they agree on.
    func clusterTerm() async -> (term: UInt64, leader: NodeID?)? {
        guard case .status(let status)? = try? await operatorRequest(.status) else { return nil }
        return (status.servers.map(\.term).max() ?? 0, status.leader)
    }

    /// Names of servers whose process is gone.
    func deadServers() -> [String] {
        servers.filter { server in
            guard let state = try? String(contentsOfFile: "/proc/\(server.pid)/stat", encoding: .utf8) else { return true }
            // The field after the parenthesised command name: Z (zombie) or X (dead) means gone.
            guard let close = state.lastIndex(of: ")") else { return true }
            let fields = state[state.index(after: close)...].split(separator: " ")
            return fields.first.map { $0 == "Z" || $0 == "X" } ?? true
        }.map(\.name)
    }

    /// Bytes the servers' data directories occupy on disk.
    func dataBytes() -> Int {
        servers.reduce(0) { total, server in total + Self.diskUsage(server.dataDirectory) }
    }

    private static func diskUsage(_ path: String) -> Int {
        guard let names = try? FileManager.default.subpathsOfDirectory(atPath: path) else { return 0 }
        return names.reduce(0) { total, name in
            var info = stat()
            guard lstat(path + "/" + name, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return total }
            return total + Int(info.st_blocks) * 512
        }
    }

    /// A loopback source address for attacker connections (never 127.0.0.1, the operator's and
    /// the real clients'), so per-address caps are tested as an attacker from elsewhere meets them.
    static func attackerAddress(group: Int, index: Int) -> String {
        "127.77.\(group % 256).\(1 + index % 250)"
    }

    /// Runs a memory attack: samples RSS while `body` runs, then requires every server under 2×
    /// its idle RSS, `status` under a second and every server alive.
    func memoryAttack(
        _ name: String, statusVia server: ServerTarget? = nil, _ body: () async throws -> (held: Bool, detail: String)
    ) async -> AttackOutcome {
        let result: (held: Bool, detail: String)
        let peaks: [String: Int]
        do {
            (result, peaks) = try await sampler.sampling(body)
        } catch {
            return .vulnerable(name, "the attack could not run: \(error)")
        }
        let worst = worst(peaks)
        let status = await status(via: server ?? servers[0])
        let dead = deadServers()
        let memory = "rss max \(megabytes(worst.peak)) MB on \(worst.server) = \(String(format: "%.2f", worst.ratio))x idle"
        let detail = "\(result.detail); \(memory); \(status.summary)"
        if !dead.isEmpty { return .vulnerable(name, "server(s) \(dead.joined(separator: ",")) died; \(detail)") }
        if worst.ratio >= 2 { return .vulnerable(name, "memory doubled; \(detail)") }
        if !status.passes { return .vulnerable(name, "status too slow or failing afterwards; \(detail)") }
        return result.held ? .refused(name, detail) : .vulnerable(name, detail)
    }
}

/// Sizes of the attacks.
struct AttackOptions: Sendable {
    var queries = 200
    var registryClients = 300
    var announcements = 40
    var idleConnections = 2000
    var idleLinks = 2000
    var randomFrames = 10_000
    /// Name prefixes of the attacks to run (all when empty).
    var only: [String] = []

    func selected(_ name: String) -> Bool {
        only.isEmpty || only.contains { name.hasPrefix($0) }
    }
}

extension AttackContext {
    /// Runs the selected attacks of `attacks`, in order.
    func run(_ attacks: [(name: String, attack: () async -> AttackOutcome)]) async -> [AttackOutcome] {
        var outcomes: [AttackOutcome] = []
        for (name, attack) in attacks where options.selected(name) {
            outcomes.append(await attack())
        }
        return outcomes
    }
}
