import Foundation
import Mailbox

/// What a delivery simulation run does; everything random in it derives from `seed`.
public struct DeliverySimulationOptions: Sendable {
    public var seed: UInt64
    /// Servers (3 to 5) and clients (3 to 6); `nil`: chosen from the seed.
    public var servers: Int?
    public var clients: Int?
    /// Ticks with faults and application traffic.
    public var steps: Int = 400
    /// At most this many ticks of the healed quiet period, in which everything must drain.
    public var quietSteps: Int = 1500
    /// Chance per tick and client that the application sends a message.
    public var sendRate: Double = 0.08
    public var dropRate: Double = 0.05
    public var duplicateRate: Double = 0.03
    /// Frames arrive 1 ... `maxDelay` ticks after they are sent (which reorders them).
    public var maxDelay: Int = 4
    public var partitionRate: Double = 0.015
    public var healRate: Double = 0.04
    public var serverCrashRate: Double = 0.006
    public var serverRestartRate: Double = 0.08
    public var clientCrashRate: Double = 0.006
    /// Chance, before each directive a client executes, that it crashes right there.
    public var crashBetweenDirectivesRate: Double = 0.001
    public var clientRestartRate: Double = 0.08
    /// Chance per tick that one direct client↔client link goes up or down.
    public var directFlipRate: Double = 0.05
    public var purgeRate: Double = 0.003
    /// Chance that a message the application sends has a time to live (docs/DELIVERY.md,
    /// "Expiry"). At 0 no random number is drawn for it: runs are those of before expiry existed.
    public var expiryRate: Double = 0.25
    public var compactionRate: Double = 0.01
    /// Mailbox limits; `nil`: small limits chosen from the seed, so that skips happen.
    public var limits: MailboxLimits?
    /// With the seed's small limits: also a small per-sender quota (1 to 4) and a small
    /// store-wide total, so that owed skips happen. Off by default: with a quota this small, a
    /// sender's later messages can fill it while the recipient waits for an earlier, refused one.
    /// The state machine lets that sequence's skip in when it knows the recipient waits for it
    /// (its acknowledged watermark + 1); it cannot know when the messages before it were
    /// delivered on a direct path, and then the pair stalls (docs/DELIVERY.md, "Quotas").
    public var tightQuotas = false
    /// Whether a message lost by a crash between recording its delivery and handing it over
    /// (the core's documented window at the application boundary) is a violation.
    public var strictHandOver = false
    /// The applications receive in batches of up to this many messages (`receive(upTo:)`)
    /// instead of one at a time (1, the default).
    public var receiveBatch = 1
    /// A deliberate client bug, to show that the checker catches it.
    public var bug: ClientBug?
    /// Where the temporary LMDB environments live (memory-backed where there is one).
    public var temporaryDirectory: String = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : "/tmp"
    /// Print every event of the run (for replaying a failing seed).
    public var verbose = false

    public init(seed: UInt64) {
        self.seed = seed
    }

    /// The `delivery-simulate` arguments that run exactly these options.
    public var arguments: String {
        var arguments = "--seed \(seed) --steps \(steps)"
        if let servers { arguments += " --servers \(servers)" }
        if let clients { arguments += " --clients \(clients)" }
        if let bug { arguments += " --bug \(bug.rawValue)" }
        if tightQuotas { arguments += " --tight-quotas" }
        if strictHandOver { arguments += " --strict-hand-over" }
        if receiveBatch > 1 { arguments += " --receive-batch \(receiveBatch)" }
        return arguments
    }
}

/// A broken delivery guarantee, with what is needed to replay it.
public struct DeliveryViolation: Error, CustomStringConvertible, Sendable {
    public let seed: UInt64
    public let step: Int
    public let guarantee: String
    public let detail: String

    /// The `delivery-simulate` arguments that replay the run.
    public let replay: String

    public var description: String {
        "step=\(step) violated=\"\(guarantee)\": \(detail) — replay with \(replay) --verbose"
    }
}

/// Figures from one run.
public struct DeliverySummary: Sendable, Equatable {
    public var servers = 0
    public var clients = 0
    /// Messages the application handed to `send`.
    public var sent = 0
    /// Messages that entered a sender's durable outbox.
    public var accepted = 0
    /// Hand-overs to the application, and of those the ones that came directly / through a server.
    public var delivered = 0
    public var direct = 0
    public var relayed = 0
    /// Skip records the state machine stored (mailbox full, owed skips, purges).
    public var skips = 0
    /// Refusals: mailbox full, sender quota or storage full.
    public var refused = 0
    /// Messages the cluster expired, and of those the ones whose sender was still waiting (told `expired`).
    public var expired = 0
    public var toldExpired = 0
    public var purged = 0
    /// Messages recorded delivered whose recipient crashed before handing them over.
    public var handOverWindow = 0
    public var faults = 0
    /// The tick at which everything had drained in the quiet period.
    public var drainedAt = 0

    public init() {}

    /// The one-line summary of a seed.
    public func line(seed: UInt64, result: String) -> String {
        "seed=\(seed) servers=\(servers) clients=\(clients) sent=\(sent) accepted=\(accepted) delivered=\(delivered) "
            + "direct=\(direct) relayed=\(relayed) skips=\(skips) refused=\(refused) expired=\(expired) told-expired=\(toldExpired) purged=\(purged) lost-at-hand-over=\(handOverWindow) faults=\(faults) "
            + "drained=\(drainedAt) result=\(result)"
    }
}

extension DeliverySummary {
    /// Adds another run's figures (for totals over many seeds).
    public mutating func add(_ other: DeliverySummary) {
        sent += other.sent
        accepted += other.accepted
        delivered += other.delivered
        direct += other.direct
        relayed += other.relayed
        skips += other.skips
        refused += other.refused
        expired += other.expired
        toldExpired += other.toldExpired
        purged += other.purged
        handOverWindow += other.handOverWindow
        faults += other.faults
    }
}
