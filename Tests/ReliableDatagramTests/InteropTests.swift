import ReliableDatagram
import Testing
import TestSupport

/// Exchanges messages both ways with the reference C implementation (ikcp.c via PyPI `kcp`),
/// over simulated lossy links on a shared virtual clock.
// Needs python3 and PyPI kcp 0.1.6; `Scripts/ensure-kcp-peer` installs it and prints why when
// it cannot, and the test is then skipped rather than failed.
@Suite(.enabled(if: KCPPeer.isAvailable, "needs python3 with PyPI kcp 0.1.6 (run Scripts/ensure-kcp-peer)"))
struct InteropTests {
    struct Scenario: CustomTestStringConvertible, Sendable {
        var name: String
        var fast: Bool
        var dropRate: Double
        var seed: UInt64
        var testDescription: String { "\(name), drop \(dropRate), seed \(seed)" }
    }

    static let scenarios = [
        Scenario(name: "normal mode", fast: false, dropRate: 0, seed: 11),
        Scenario(name: "normal mode", fast: false, dropRate: 0.05, seed: 12),
        Scenario(name: "fast mode", fast: true, dropRate: 0.1, seed: 13),
    ]
    static let messagesPerDirection = 300

    @Test(arguments: scenarios)
    func messagesFlowBothWaysWithTheReferenceImplementation(scenario: Scenario) async throws {
        // The exchange waits on the Python peer at every step: on a thread of its own, not on
        // the two-thread concurrency pool the network tests share.
        let outcome = try await onOwnThread { try Self.exchange(scenario) }
        if let stall = outcome.stall { Issue.record("seed \(scenario.seed): stalled; \(stall)") }
        #expect(outcome.rejections.isEmpty, "ikcp_input refused datagrams: \(outcome.rejections.prefix(5))")
        #expect(outcome.receivedByReference == outcome.fromSwift, "seed \(scenario.seed): ikcp.c received other messages than the Swift side sent")
        #expect(outcome.receivedBySwift == outcome.fromReference, "seed \(scenario.seed): the Swift side received other messages than ikcp.c sent")
        #expect(outcome.fromSwift.contains { $0.count > 2 * outcome.segmentSize }, "the workload includes multi-fragment messages")
    }

    struct Outcome: Sendable {
        var fromSwift: [[UInt8]]
        var fromReference: [[UInt8]]
        var receivedBySwift: [[UInt8]] = []
        var receivedByReference: [[UInt8]] = []
        var rejections: [String] = []
        var stall: String?
        var segmentSize: Int
    }

    /// Runs one scenario to its end (or a stall) on a shared virtual clock.
    static func exchange(_ scenario: Scenario) throws -> Outcome {
        var settings = scenario.fast ? ReliableDatagramSettings.fast(conversation: 0x4B43_5021) : .init(conversation: 0x4B43_5021)
        settings.sendWindow = 64
        settings.deadLink = 1_000
        var swift = try ReliableDatagramSession(settings: settings)
        let reference = try KCPPeer(
            conversation: settings.conversation, noDelay: settings.noDelay.rawValue, interval: Int(settings.interval),
            resend: settings.fastResend, noCongestionWindow: !settings.congestionControl,
            mtu: settings.mtu, sendWindow: settings.sendWindow, receiveWindow: settings.receiveWindow
        )
        var toReference = LossyLink(seed: scenario.seed, dropRate: scenario.dropRate, duplicateRate: scenario.dropRate / 2, delay: 5...40)
        var toSwift = LossyLink(seed: scenario.seed &+ 1, dropRate: scenario.dropRate, duplicateRate: scenario.dropRate / 2, delay: 5...40)
        let mss = settings.maximumSegmentSize
        // The Python binding refuses to enqueue empty messages, so its stream skips them.
        var outcome = Outcome(
            fromSwift: (0..<messagesPerDirection).map { TestMessages.message($0, stream: scenario.seed, segmentSize: mss) },
            fromReference: (0..<messagesPerDirection)
                .map { TestMessages.message($0, stream: scenario.seed &+ 100, segmentSize: mss) }
                .filter { !$0.isEmpty },
            segmentSize: mss
        )
        var swiftSent = 0, referenceSent = 0
        var now: UInt32 = 0
        while outcome.receivedBySwift.count < outcome.fromReference.count || outcome.receivedByReference.count < outcome.fromSwift.count {
            now += 10
            guard now < 20 * 60 * 1_000 else {
                outcome.stall = "swift got \(outcome.receivedBySwift.count)/\(outcome.fromReference.count), reference got \(outcome.receivedByReference.count)/\(outcome.fromSwift.count)"
                return outcome
            }
            while swiftSent < outcome.fromSwift.count, swift.waitingToSend < 2 * settings.sendWindow {
                try swift.send(message: outcome.fromSwift[swiftSent])
                swiftSent += 1
            }
            let batch = Array(outcome.fromReference[referenceSent..<min(referenceSent + 8, outcome.fromReference.count)])
            referenceSent += batch.count

            let step = try reference.step(datagrams: toReference.deliver(now: now), messages: batch, now: now)
            outcome.rejections += step.rejections
            outcome.receivedByReference += step.messages
            for datagram in step.datagrams { toSwift.send(datagram, now: now) }

            for datagram in toSwift.deliver(now: now) { try swift.input(datagram: datagram) }
            swift.update(current: now)
            for datagram in swift.drainOutbox() { toReference.send(datagram, now: now) }
            outcome.receivedBySwift += swift.drainMessages()
        }
        return outcome
    }
}
