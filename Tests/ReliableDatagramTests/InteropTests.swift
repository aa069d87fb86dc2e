import ReliableDatagram
import Testing

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
    func messagesFlowBothWaysWithTheReferenceImplementation(scenario: Scenario) throws {
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
        let fromSwift = (0..<Self.messagesPerDirection).map { TestMessages.message($0, stream: scenario.seed, segmentSize: mss) }
        let fromReference = (0..<Self.messagesPerDirection)
            .map { TestMessages.message($0, stream: scenario.seed &+ 100, segmentSize: mss) }
            .filter { !$0.isEmpty }

        var swiftSent = 0, referenceSent = 0
        var receivedBySwift: [[UInt8]] = [], receivedByReference: [[UInt8]] = []
        var now: UInt32 = 0
        while receivedBySwift.count < fromReference.count || receivedByReference.count < fromSwift.count {
            now += 10
            guard now < 20 * 60 * 1_000 else {
                Issue.record("seed \(scenario.seed): stalled; swift got \(receivedBySwift.count)/\(fromReference.count), reference got \(receivedByReference.count)/\(fromSwift.count)")
                return
            }
            while swiftSent < fromSwift.count, swift.waitingToSend < 2 * settings.sendWindow {
                try swift.send(message: fromSwift[swiftSent])
                swiftSent += 1
            }
            let batch = Array(fromReference[referenceSent..<min(referenceSent + 8, fromReference.count)])
            referenceSent += batch.count

            let step = try reference.step(datagrams: toReference.deliver(now: now), messages: batch, now: now)
            #expect(step.rejections.isEmpty, "ikcp_input refused a datagram: \(step.rejections)")
            receivedByReference += step.messages
            for datagram in step.datagrams { toSwift.send(datagram, now: now) }

            for datagram in toSwift.deliver(now: now) { try swift.input(datagram: datagram) }
            swift.update(current: now)
            for datagram in swift.drainOutbox() { toReference.send(datagram, now: now) }
            receivedBySwift += swift.drainMessages()
        }
        #expect(receivedByReference == fromSwift, "seed \(scenario.seed): ikcp.c received other messages than the Swift side sent")
        #expect(receivedBySwift == fromReference, "seed \(scenario.seed): the Swift side received other messages than ikcp.c sent")
        #expect(fromSwift.contains { $0.count > 2 * mss }, "the workload includes multi-fragment messages")
    }
}
