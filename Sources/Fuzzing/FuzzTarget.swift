import Foundation

/// A fuzz target: a family of inputs and the invariants checked on them.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// RaftMessage bytes (mutated or arbitrary) and hostile well-typed messages stepped into a
    /// node of a 3-node cluster in every role.
    case raftStep = "raft-step"
    /// MailboxCommand bytes applied to a MailboxStore on a temporary LMDB environment.
    case mailboxApply = "mailbox-apply"
    /// Every decoder: frames, client protocol, mailbox and Raft types, admin JSON, KCP datagrams,
    /// and (through `package` access) server-to-server frames, UDP datagrams and the handshake hello.
    case frames
    /// What a client does with server pushes that can run without sockets: ServerPush decoding
    /// and the ClientLedger's sequencing and delivery order (`client-engine` drives ClientEngine).
    case clientLedger = "client-ledger"
    /// ServerPush frames from a fake server into a live P2PClient (see ``ClientEngineDriver``).
    case clientEngine = "client-engine"

    /// Distinguishes the targets' random streams.
    var salt: UInt64 {
        switch self {
        case .raftStep: 0x5241_4654
        case .mailboxApply: 0x4D42_5821
        case .frames: 0x4652_4D53
        case .clientLedger: 0x434C_4E54
        case .clientEngine: 0x434C_4547
        }
    }
}

/// One failing input and how to replay it: `p2pcore-fuzz --target <target> --seed <seed> --first <iteration> --count 1`.
public struct FuzzFailure: Sendable, CustomStringConvertible {
    public let target: FuzzTarget
    public let seed: UInt64
    public let iteration: UInt64
    public let reason: String

    public var description: String {
        "target=\(target.rawValue) seed=\(seed) iteration=\(iteration): \(reason)"
    }
}

/// The outcome of fuzzing one target.
public struct FuzzReport: Sendable, CustomStringConvertible {
    public let target: FuzzTarget
    public var inputs = 0
    /// Traps cannot be caught in-process (one kills the run, and the runner reports its input);
    /// this counts errors a target must never throw (e.g. a state machine refusing a command).
    public var crashes = 0
    public var invariantViolations = 0
    public var seconds = 0.0
    /// client-engine: how often the client redialled, and how many messages it handed out.
    public var reconnects = 0
    public var delivered = 0
    /// The first failures (at most ``FuzzReport/keptFailures``).
    public var failures: [FuzzFailure] = []
    static let keptFailures = 20

    public var description: String {
        "fuzz target=\(target.rawValue) inputs=\(inputs) crashes=\(crashes) invariant-violations=\(invariantViolations) seconds="
            + String(format: "%.1f", seconds) + (target == .clientEngine ? " reconnects=\(reconnects) delivered=\(delivered)" : "")
    }
}

/// What a target's driver reports about one input.
enum FuzzVerdict {
    case ok
    case violation(String)
    case crash(String)
}

/// One target's input generator and checker; `run` must depend only on `random`.
protocol FuzzDriver {
    mutating func run(_ random: inout FuzzRandom) -> FuzzVerdict
}

/// Runs targets deterministically.
public enum Fuzzer {
    /// Runs `count` inputs of `target` from iteration `first`; `willRun` is told each iteration
    /// before it runs (for crash reports).
    public static func run(
        _ target: FuzzTarget, seed: UInt64, count: Int, first: UInt64 = 0, willRun: (UInt64) -> Void = { _ in }
    ) throws -> FuzzReport {
        var report = FuzzReport(target: target)
        let start = Date()
        switch target {
        case .raftStep:
            var driver = RaftStepDriver()
            run(&driver, &report, seed: seed, count: count, first: first, willRun: willRun)
        case .mailboxApply:
            var driver = try MailboxApplyDriver()
            run(&driver, &report, seed: seed, count: count, first: first, willRun: willRun)
        case .frames:
            var driver = FramesDriver()
            run(&driver, &report, seed: seed, count: count, first: first, willRun: willRun)
        case .clientLedger:
            var driver = try ClientLedgerDriver()
            run(&driver, &report, seed: seed, count: count, first: first, willRun: willRun)
        case .clientEngine:
            // Sessions of a live client; `run` blocks on them, so call it off the concurrency pool.
            var driver = ClientEngineDriver(first: first)
            run(&driver, &report, seed: seed, count: count, first: first, willRun: willRun)
            record(driver.finish(), &report, seed: seed, iteration: first &+ UInt64(max(0, count)) &- 1)
            report.reconnects = driver.reconnects
            report.delivered = driver.delivered
        }
        report.seconds = Date().timeIntervalSince(start)
        return report
    }

    private static func run<D: FuzzDriver>(
        _ driver: inout D, _ report: inout FuzzReport, seed: UInt64, count: Int, first: UInt64, willRun: (UInt64) -> Void
    ) {
        for offset in 0..<UInt64(max(0, count)) {
            let iteration = first &+ offset
            willRun(iteration)
            var random = FuzzRandom(target: report.target, seed: seed, iteration: iteration)
            let verdict = driver.run(&random)
            report.inputs += 1
            record(verdict, &report, seed: seed, iteration: iteration)
        }
    }

    private static func record(_ verdict: FuzzVerdict, _ report: inout FuzzReport, seed: UInt64, iteration: UInt64) {
        switch verdict {
        case .ok:
            break
        case .violation(let reason):
            report.invariantViolations += 1
            keep(FuzzFailure(target: report.target, seed: seed, iteration: iteration, reason: reason), in: &report)
        case .crash(let reason):
            report.crashes += 1
            keep(FuzzFailure(target: report.target, seed: seed, iteration: iteration, reason: reason), in: &report)
        }
    }

    private static func keep(_ failure: FuzzFailure, in report: inout FuzzReport) {
        if report.failures.count < FuzzReport.keptFailures { report.failures.append(failure) }
    }
}
