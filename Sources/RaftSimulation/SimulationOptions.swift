/// What a simulated run does; everything random in it derives from `seed`.
public struct SimulationOptions: Sendable {
    public var seed: UInt64
    /// Initial voters (3, 5 or 7 in the standard runs).
    public var nodes: Int
    /// Steps with faults; each step delivers due messages and ticks every live node once.
    public var steps: Int = 300
    /// Steps of the healed phase at the end, in which a leader must emerge and every
    /// acknowledged proposal must reach every live node.
    public var healSteps: Int = 200
    public var dropRate: Double = 0.05
    public var duplicateRate: Double = 0.03
    /// Messages arrive 1 ... `maxDelay` steps after they are sent (which reorders them).
    public var maxDelay: Int = 3
    public var partitionRate: Double = 0.02
    public var healRate: Double = 0.05
    public var crashRate: Double = 0.01
    public var restartRate: Double = 0.1
    /// Chance, per crash, that the node dies between persisting and sending a ready.
    public var crashBeforeSendRate: Double = 0.2
    /// Chance, per crash, that it is a system crash: what the node wrote without a sync since
    /// its last ready that had to be synced (``RaftReady/needsDurability``) is lost.
    public var unsyncedLossRate: Double = 0.5
    public var proposalRate: Double = 0.5
    /// Chance per step of a proposal at a follower (forwarded to the leader by Raft).
    public var forwardRate: Double = 0.2
    /// Chance per step of a linearizable read at a random node.
    public var readRate: Double = 0.2
    public var membershipChangeRate: Double = 0.01
    public var transferRate: Double = 0.01
    public var compactionRate: Double = 0.02
    public var electionTicks: Int = 10
    /// Print what each node applies and installs (for replaying a failing seed).
    public var trace = false
    /// Leaders send before they persist and commit on their own log only once it is durable
    /// (``RaftConfiguration/leaderPersistsInParallel``): on odd seeds, so both modes are covered.
    public var leaderPersistsInParallel: Bool

    public init(seed: UInt64, nodes: Int) {
        self.seed = seed
        self.nodes = nodes
        leaderPersistsInParallel = seed % 2 == 1
    }
}

/// A broken safety or liveness property, with what is needed to replay it.
public struct SimulationViolation: Error, CustomStringConvertible, Sendable {
    public let seed: UInt64
    public let nodes: Int
    public let step: Int
    public let property: String
    public let detail: String

    public var description: String {
        "violation of \(property) at step \(step) (seed \(seed), \(nodes) nodes): \(detail) — replay with --seed \(seed) --nodes \(nodes)"
    }
}

/// Figures from one run.
public struct SimulationSummary: Sendable {
    public var proposalsAcknowledged = 0
    public var leaderElections = 0
    public var crashes = 0
    public var partitions = 0
    public var membershipChanges = 0
    public var transfers = 0
    public var snapshotsInstalled = 0
    public var messagesDelivered = 0
    public var ticksToLeaderAfterHeal = 0
    public var proposalsForwarded = 0
    public var forwardedProposalsCommitted = 0
    public var readsRequested = 0
    public var readsConfirmed = 0

    public init() {}
}
