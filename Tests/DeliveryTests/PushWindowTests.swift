import Delivery
import MessageModel
import P2PCore
import Testing

/// A mailbox model answering a ``PushWindow``'s fetches, in arrival order.
struct MailboxModel {
    var mail: [PushWindow.StoredMail] = []
    /// Arrival numbers only grow, as the store's do (a removal leaves no gap to reuse).
    var arrivals: UInt64 = 0

    mutating func add(_ message: MailMessage) {
        arrivals += 1
        mail.append(PushWindow.StoredMail(arrival: arrivals, message: message))
    }

    mutating func remove(_ id: MessageID) { mail.removeAll { $0.message.id == id } }

    func answer(_ fetch: PushWindow.Fetch, perSenderFilter: Bool = true) -> [PushWindow.StoredMail] {
        switch fetch.kind {
        case .after(let arrival, let limit):
            return Array(mail.filter { $0.arrival > arrival }.prefix(limit))
        case .sequenceHeads(let perSender, let limit):
            let bySender = Dictionary(grouping: mail, by: \.message.id.sender)
            var heads: [PushWindow.StoredMail] = []
            for sender in bySender.keys.sorted() {
                heads += (bySender[sender] ?? []).sorted { $0.message.id.sequence < $1.message.id.sequence }.prefix(perSender)
            }
            return Array(heads.prefix(limit))
        }
    }
}

/// Runs a window against a mailbox model, answering fetches at once; collects the pushes.
struct WindowHarness {
    var window: PushWindow
    var mailbox = MailboxModel()
    var now: UInt64 = 0
    var queuedBytes = 0
    var pushed: [UInt64] = []

    init(configuration: PushWindow.Configuration) {
        window = PushWindow(configuration: configuration)
    }

    mutating func feed(_ input: PushWindow.Input) {
        var inputs = [input]
        while !inputs.isEmpty {
            let next = inputs.removeFirst()
            for directive in window.step(next, now: now, queuedBytes: queuedBytes) {
                switch directive {
                case .push(let message):
                    pushed.append(message.id.sequence)
                    queuedBytes += message.payload.count + 96
                case .fetch(let fetch):
                    inputs.append(.fetched(generation: fetch.generation, mailbox.answer(fetch)))
                }
            }
        }
    }

    mutating func takePushed() -> [UInt64] {
        defer { pushed = [] }
        return pushed
    }
}

@Suite struct PushWindowTests {
    let alice = NodeID.random()
    let bob = NodeID.random()

    private func configuration(window: Int = 4, budget: Int = 1 << 20) -> PushWindow.Configuration {
        var configuration = PushWindow.Configuration()
        configuration.window = window
        configuration.pushBudget = budget
        configuration.patience = 1_000
        return configuration
    }

    @Test func pushesUpToTheWindowAndMovesOnWithAcknowledgements() {
        var harness = WindowHarness(configuration: configuration())
        for sequence in 1...6 { harness.mailbox.add(message(from: alice, to: bob, UInt64(sequence))) }
        harness.feed(.newMail)
        #expect(harness.takePushed().isEmpty, "nothing is pushed before the client subscribes")
        harness.feed(.subscribe(true))
        #expect(harness.takePushed() == [1, 2, 3, 4])
        harness.mailbox.remove(MessageID(sender: alice, sequence: 1))
        harness.feed(.acknowledged(MessageID(sender: alice, sequence: 1)))
        #expect(harness.takePushed() == [5])
        harness.feed(.acknowledged(MessageID(sender: alice, sequence: 99)))
        #expect(harness.takePushed().isEmpty, "an acknowledgement of something not in flight changes nothing")
    }

    @Test func aStaleWindowStartsOverWithEachSendersLowestSequenceFirst() {
        var harness = WindowHarness(configuration: configuration())
        // Alice's 2…20 arrived first, her 1 last (relayed after its direct attempt timed out).
        for sequence in Array(UInt64(2)...20) + [1] { harness.mailbox.add(message(from: alice, to: bob, sequence)) }
        harness.feed(.subscribe(true))
        #expect(harness.takePushed() == [2, 3, 4, 5], "the window is filled in arrival order")
        harness.queuedBytes = 0
        harness.now = 1_000
        harness.feed(.tick)
        #expect(harness.takePushed().isEmpty, "not stale yet")
        harness.now = 1_001
        harness.feed(.tick)
        #expect(harness.takePushed().first == 1, "the rewound window starts with the sender's lowest sequence")
    }

    @Test func receivedAcknowledgementsKeepTheWindowFromGoingStale() {
        var harness = WindowHarness(configuration: configuration())
        for sequence in 1...6 { harness.mailbox.add(message(from: alice, to: bob, UInt64(sequence))) }
        harness.feed(.subscribe(true))
        #expect(harness.takePushed() == [1, 2, 3, 4])
        harness.now = 900
        harness.feed(.acknowledgementReceived(MessageID(sender: alice, sequence: 1)))
        harness.now = 1_500
        harness.feed(.tick)
        #expect(harness.takePushed().isEmpty, "the client acknowledged within the patience: its commit is slow, not lost")
        harness.now = 1_901
        harness.feed(.tick)
        #expect(harness.takePushed().isEmpty, "pushes still queued on the link: the client is slow, not silent")
        harness.queuedBytes = 0
        harness.feed(.tick)
        #expect(harness.takePushed() == [1, 2, 3, 4], "silent since: all goes again (an acknowledgement can be lost)")
        harness.mailbox.remove(MessageID(sender: alice, sequence: 1))
        harness.feed(.acknowledged(MessageID(sender: alice, sequence: 1)))
        #expect(harness.takePushed() == [5])
    }

    @Test func aMessageLeftOutWhileOthersGoThroughIsPushedAgainInTheEnd() {
        var configuration = configuration()
        configuration.stuckFactor = 10
        var harness = WindowHarness(configuration: configuration)
        for sequence in 1...200 { harness.mailbox.add(message(from: alice, to: bob, UInt64(sequence))) }
        harness.feed(.subscribe(true))
        #expect(harness.takePushed() == [1, 2, 3, 4])
        let first = MessageID(sender: alice, sequence: 1)
        var again: UInt64?
        while again == nil, harness.now < 20_000 {
            harness.now += 250
            // The client acknowledges everything but 1 (it lost it, say): the window moves on.
            for id in harness.window.inFlight.keys where id != first {
                harness.feed(.acknowledgementReceived(id))
                harness.mailbox.remove(id)
                harness.feed(.acknowledged(id))
            }
            harness.feed(.tick)
            if harness.takePushed().contains(1) { again = harness.now }
        }
        // Stuck once messages pushed more than 10 patiences after it were acknowledged.
        #expect(again.map { $0 > 10_000 && $0 <= 10_500 } == true, "pushed again at \(String(describing: again))")
    }

    /// Pushes alice's 1…5 to bob (a window of 4) and lets bob stay silent until `end`: the
    /// times the window started over.
    func silentStartOvers(_ harness: inout WindowHarness, until end: UInt64) -> [UInt64] {
        for sequence in 1...5 { harness.mailbox.add(message(from: alice, to: bob, UInt64(sequence))) }
        harness.feed(.subscribe(true))
        #expect(harness.takePushed() == [1, 2, 3, 4])
        var startOvers: [UInt64] = []
        while harness.now < end {
            harness.now += 100
            harness.queuedBytes = 0
            harness.feed(.tick)
            if !harness.takePushed().isEmpty { startOvers.append(harness.now) }
        }
        return startOvers
    }

    @Test func eachStartOverForSilenceDoublesThePatienceUntilTheWindowEmpties() {
        var configuration = configuration()
        configuration.silentDoublings = 3
        var harness = WindowHarness(configuration: configuration)
        let startOvers = silentStartOvers(&harness, until: 20_000)
        // Silent from 0: after 1 s, then 2 s, 4 s, 8 s, 8 s… of silence.
        #expect(startOvers == [1_100, 3_200, 7_300, 15_400], "\(startOvers)")
        // The client catches up: the window empties, and the patience is 1 s again.
        for sequence in 1...5 {
            let id = MessageID(sender: alice, sequence: UInt64(sequence))
            harness.mailbox.remove(id)
            harness.feed(.acknowledged(id))
        }
        #expect(harness.takePushed() == [5])
        harness.mailbox.add(message(from: alice, to: bob, 6))
        harness.feed(.newMail)
        #expect(harness.takePushed() == [6])
        harness.now += 1_100
        harness.queuedBytes = 0
        harness.feed(.tick)
        #expect(harness.takePushed() == [6], "pushed again after one patience of silence")
    }

    /// By default silence never stretches the patience: a client waiting behind a gap is
    /// silent too, and only a start-over fills its gap.
    @Test func byDefaultSilenceKeepsThePatience() {
        var harness = WindowHarness(configuration: configuration())
        let startOvers = silentStartOvers(&harness, until: 5_000)
        // Silent from 0: after every 1 s of silence.
        #expect(startOvers == [1_100, 2_200, 3_300, 4_400], "\(startOvers)")
    }

    @Test func aSlowClientReadingAFullWindowInOrderIsNotPushedAgain() {
        var configuration = configuration(window: 64)
        configuration.stuckFactor = 10
        var harness = WindowHarness(configuration: configuration)
        for sequence in 1...600 { harness.mailbox.add(message(from: alice, to: bob, UInt64(sequence))) }
        harness.feed(.subscribe(true))
        var pushed = harness.takePushed()
        #expect(pushed.count == 64)
        var acknowledged = 0
        // One acknowledgement every 200 ms, in order: the last of a full window waits 12.8 s,
        // longer than 10 patiences, yet nothing is overtaken and nothing goes twice.
        while acknowledged < 600, harness.now < 200_000 {
            harness.now += 200
            let id = MessageID(sender: alice, sequence: UInt64(acknowledged + 1))
            harness.feed(.acknowledgementReceived(id))
            harness.mailbox.remove(id)
            harness.feed(.acknowledged(id))
            acknowledged += 1
            harness.feed(.tick)
            pushed += harness.takePushed()
        }
        #expect(acknowledged == 600)
        #expect(pushed.count == 600, "pushed \(pushed.count) times for 600 messages")
        #expect(Set(pushed).count == pushed.count)
    }

    @Test func aRewindDoesNotPushASequenceHeadTwice() {
        var configuration = configuration(window: 8)
        configuration.headsPerSender = 2
        var harness = WindowHarness(configuration: configuration)
        // 2 arrived last: the rewind's heads are 1 and 2, and 1 is also first in arrival order.
        for sequence in [1] + Array(UInt64(3)...8) + [2] { harness.mailbox.add(message(from: alice, to: bob, sequence)) }
        harness.feed(.subscribe(true))
        #expect(harness.takePushed() == [1, 3, 4, 5, 6, 7, 8, 2])
        harness.queuedBytes = 0
        harness.now = 1_001
        harness.feed(.tick)
        let pushed = harness.takePushed()
        #expect(pushed.first == 1)
        #expect(Set(pushed).count == pushed.count, "pushed twice in one rewind: \(pushed)")
        #expect(Set(pushed) == Set(1...8))
    }

    @Test func backpressurePausesUntilTheLinkDrains() {
        var harness = WindowHarness(configuration: configuration(window: 100, budget: 150))
        for sequence in 1...10 {
            harness.mailbox.add(MailMessage(id: MessageID(sender: alice, sequence: UInt64(sequence)), recipient: bob, payload: [UInt8](repeating: 0, count: 100), enqueuedAtMillis: 0))
        }
        harness.feed(.subscribe(true))
        let first = harness.takePushed()
        #expect(first == [1], "a push counts its payload and overhead against the budget")
        harness.feed(.newMail)
        #expect(harness.takePushed().isEmpty, "the link has not drained")
        harness.queuedBytes = 0
        harness.feed(.newMail)
        #expect(harness.takePushed() == [2])
    }

    @Test func anAnswerToAFetchFromBeforeARewindIsIgnored() {
        var window = PushWindow(configuration: configuration())
        var mailbox = MailboxModel()
        for sequence in 1...3 { mailbox.add(message(from: alice, to: bob, UInt64(sequence))) }
        guard case .fetch(let old)? = window.step(.subscribe(true), now: 0, queuedBytes: 0).first else {
            Issue.record("no fetch")
            return
        }
        guard case .fetch(let fresh)? = window.step(.snapshotInstalled, now: 0, queuedBytes: 0).first else {
            Issue.record("no fetch after the rewind")
            return
        }
        #expect(window.step(.fetched(generation: old.generation, mailbox.answer(old)), now: 0, queuedBytes: 0).isEmpty)
        let pushes = window.step(.fetched(generation: fresh.generation, mailbox.answer(fresh)), now: 0, queuedBytes: 0)
        #expect(pushes.filter { if case .push = $0 { true } else { false } }.count == 3)
    }

    @Test func unsubscribingStopsThePush() {
        var harness = WindowHarness(configuration: configuration())
        harness.feed(.subscribe(true))
        harness.feed(.subscribe(false))
        harness.mailbox.add(message(from: alice, to: bob, 1))
        harness.feed(.newMail)
        harness.feed(.tick)
        #expect(harness.takePushed().isEmpty)
    }
}
