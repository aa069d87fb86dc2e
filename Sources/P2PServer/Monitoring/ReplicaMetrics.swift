import Prometheus

/// What a ``ReplicatedMailboxes`` counts as it runs: proposals, commits and how long its LMDB
/// commits (each one a sync) take.
public struct ReplicaMetrics: Sendable {
    let proposals: Counter?
    let commits: Counter?
    let syncLatency: DurationHistogram?

    /// Metrics kept nowhere (a replica outside a server, e.g. in tests).
    public static let none = ReplicaMetrics(proposals: nil, commits: nil, syncLatency: nil)

    private init(proposals: Counter?, commits: Counter?, syncLatency: DurationHistogram?) {
        self.proposals = proposals
        self.commits = commits
        self.syncLatency = syncLatency
    }

    /// Metrics registered in `registry`.
    public init(registry: PrometheusCollectorRegistry) {
        proposals = registry.makeCounter(descriptor: .p2pcore("raft_proposals_total", "Commands this server proposed to Raft"))
        commits = registry.makeCounter(descriptor: .p2pcore("raft_commits_total", "Log entries this server saw committed and applied"))
        syncLatency = registry.makeDurationHistogram(
            descriptor: .p2pcore("lmdb_sync_seconds", "Duration of the LMDB commits (with sync) of the Raft log and mailboxes"),
            buckets: [
                .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
                .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1),
            ]
        )
    }

    func proposed() {
        proposals?.increment()
    }

    func committed(_ entries: Int) {
        commits?.increment(by: Int64(entries))
    }

    /// Runs `body` (an LMDB commit) and records how long it took.
    @inline(__always)
    func timingSync<R>(_ body: () throws -> R) rethrows -> R {
        guard let syncLatency else { return try body() }
        let start = ContinuousClock.now
        defer { syncLatency.record(ContinuousClock.now - start) }
        return try body()
    }
}

extension MetricNameDescriptor {
    /// `p2pcore_<name>`, with its help text.
    static func p2pcore(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "p2pcore", metricName: name, unitName: "", helpText: help)
    }
}
