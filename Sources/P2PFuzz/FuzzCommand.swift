import ArgumentParser
import Foundation
import Fuzzing
import P2PCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The input running now, read by the trap handler (which may touch nothing else).
nonisolated(unsafe) private var currentTarget: UnsafeMutablePointer<CChar>?
nonisolated(unsafe) private var currentSeed: UInt64 = 0
nonisolated(unsafe) private var currentIteration: UInt64 = 0

/// Writes `crash target=… seed=… iteration=…` to stderr with async-signal-safe calls only.
private func reportTrap(_ signal: Int32) {
    func put(_ text: StaticString) { _ = write(2, text.utf8Start, text.utf8CodeUnitCount) }
    func put(_ number: UInt64) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { buffer in
            var value = number
            var at = 20
            repeat {
                at -= 1
                buffer[at] = UInt8(48 + value % 10)
                value /= 10
            } while value > 0
            if let base = buffer.baseAddress { _ = write(2, base + at, 20 - at) }
        }
    }
    put("\nfuzz crash target=")
    if let name = currentTarget { _ = write(2, name, strlen(name)) }
    put(" seed=")
    put(currentSeed)
    put(" iteration=")
    put(currentIteration)
    put(" (replay: p2pcore-fuzz --target <target> --seed <seed> --first <iteration> --count 1)\n")
    Glibc.signal(signal, SIG_DFL)
    raise(signal)
}

@main
struct FuzzCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "p2pcore-fuzz",
        abstract: "Deterministic fuzzing of p2pcore's decoders and state machines.",
        discussion: "Every input is reproducible from (target, seed, iteration). A trap prints the input that caused it.",
        version: P2PCoreVersion.current
    )

    @Option(help: "The target: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")) or all.")
    var target = "all"

    @Option(help: "Inputs per target.")
    var count = 100_000

    @Option(help: "The run's seed.")
    var seed: UInt64 = 1

    @Option(help: "The first iteration (to replay one input: --first N --count 1).")
    var first: UInt64 = 0

    @Flag(help: "Print every failing input (default: the first few).")
    var verbose = false

    mutating func run() throws {
        let targets: [FuzzTarget]
        if target == "all" {
            targets = FuzzTarget.allCases
        } else if let one = FuzzTarget(rawValue: target) {
            targets = [one]
        } else {
            throw ValidationError("unknown target \(target)")
        }
        for signal in [SIGILL, SIGTRAP, SIGABRT, SIGSEGV, SIGBUS, SIGFPE] {
            _ = Glibc.signal(signal) { reportTrap($0) }
        }
        var failed = false
        for target in targets {
            currentTarget.map { free($0) }
            currentTarget = strdup(target.rawValue)
            currentSeed = seed
            let report = try Fuzzer.run(target, seed: seed, count: count, first: first) { currentIteration = $0 }
            print(report.description)
            for failure in report.failures.prefix(verbose ? .max : 5) { print("  \(failure)") }
            failed = failed || report.crashes > 0 || report.invariantViolations > 0
        }
        if failed { throw ExitCode(1) }
    }
}
