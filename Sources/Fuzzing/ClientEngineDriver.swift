import ClientProtocol
import Dispatch
import Foundation
import LMDB
import Logging
import Mailbox
import MessageModel
import P2PClient
import P2PCore
import Transport
import WireCodec

/// `client-engine`: a real ``P2PClient`` (its ClientEngine actor, ledger and links) attached to
/// a fake server — a `LinkListener` on 127.0.0.1 stating the server role, with its own cluster
/// key — which welcomes it and then pushes one frame per input: valid `deliver`s from a few
/// senders with sequences out of order, duplicated, with gaps and skips; mutated pushes;
/// `delivered`, `sendResult`/`queryResult`/`connectResult` for requests never made and
/// `introduction`s; and now and then (about one input in 5,000, as a redial waits 100 ms) a
/// frame the client must reject (garbage, a forged welcome,
/// a refusal), after which it drops the link and redials (counted; the fake welcomes every new
/// link and pushes again what the client may have lost, as a server does on re-subscription).
///
/// Invariants: no trap; every message `receive()` hands out was pushed as a deliver to this
/// client with that id and payload; per sender, sequences handed out strictly increase, and every
/// sequence passed over had a skip pushed; nothing is handed out twice; and after each barrier
/// (a message from a sender of its own, every ``barrierEvery`` inputs, which the client must hand
/// out within ``stallLimit``) everything deliverable was delivered.
///
/// Starting a client costs milliseconds, so one client serves a session of ``sessionLength``
/// inputs (iterations `k·sessionLength ..< (k+1)·sessionLength`), with a fresh state directory
/// and fresh sender ids. An input's effect depends on the session before it, and on timing (what
/// a reconnect loses): replay a failing input with `--first <its session's start> --count <up to
/// it>`. Violations seen by the receiving task are reported with the next input's verdict.
final class ClientEngineDriver: FuzzDriver {
    static let sessionLength: UInt64 = 10_000
    static let barrierEvery: UInt64 = 64
    static let stallLimit: Duration = .seconds(20)

    private var iteration: UInt64
    private var session: Session?
    private(set) var reconnects = 0
    private(set) var delivered = 0

    init(first: UInt64) {
        iteration = first
    }

    func run(_ random: inout FuzzRandom) -> FuzzVerdict {
        defer { iteration &+= 1 }
        var ended: FuzzVerdict = .ok
        if session == nil || iteration % Self.sessionLength == 0 {
            ended = finishSession() ?? .ok
            let start = random
            do {
                session = try Self.blocking { try await Session.start(random: start) }
            } catch {
                return .crash("P2PClient.start threw: \(error)")
            }
        }
        guard let session else { return .crash("no session") }
        session.push(&random)
        if case .ok = ended {} else { return ended }  // the previous session's last verdict
        if (iteration + 1) % Self.barrierEvery == 0, let stalled = session.barrier() { return .violation(stalled) }
        return session.takeViolations()
    }

    /// Ends the run: a last barrier, then the client's shutdown.
    func finish() -> FuzzVerdict { finishSession() ?? .ok }

    private func finishSession() -> FuzzVerdict? {
        guard let session else { return nil }
        self.session = nil
        var verdict = session.barrier().map(FuzzVerdict.violation) ?? session.takeViolations()
        if case .ok = verdict, let unfinished = session.awaitComplete() { verdict = .violation(unfinished) }
        reconnects += session.reconnects
        delivered += session.model.withLock { $0.handed.count }
        try? Self.blocking { await session.stop() }
        return verdict
    }

    /// Runs `work` on the concurrency pool and waits for it (the fuzz loop is synchronous and
    /// runs on a thread of its own, never on the pool).
    static func blocking<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) throws -> T {
        let result = Locked<Result<T, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            let outcome: Result<T, any Error>
            do { outcome = .success(try await work()) } catch { outcome = .failure(error) }
            result.withLock { $0 = outcome }
            done.signal()
        }
        done.wait()
        guard let outcome = result.withLock({ $0 }) else { preconditionFailure("the task signalled without a result") }
        return try outcome.get()
    }
}

/// A value behind a lock, shared between the fuzz loop's thread and tasks.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}

/// What the fake server pushed and what the client handed out, shared by the pushing loop and
/// the receiving task.
struct ClientEngineModel {
    /// Non-skip payloads pushed as deliveries to the client, by id.
    var pushed: [MessageID: Set<[UInt8]>] = [:]
    var skips: Set<MessageID> = []
    /// The canonical content of each id the generator produced (pushed again after a redial).
    var canonical: [MessageID: MailMessage] = [:]
    var handedThrough: [NodeID: UInt64] = [:]
    var handed: Set<MessageID> = []
    var violations: [String] = []
}

extension ClientEngineDriver {
    final class Session: Sendable {
        let client: P2PClient
        let server: FakeServer
        let senders: [NodeID]
        let barrierSender: NodeID
        let directory: String
        let model: Locked<ClientEngineModel>
        let consumer: Task<Void, Never>
        let arrived: DispatchSemaphore
        /// The link last pushed on: a new one gets everything not handed out yet first.
        let servedLink = Locked<Link?>(nil)
        let counters = Locked<(nextFresh: [UInt64], barrier: UInt64)>(([1, 1, 1], 0))

        var reconnects: Int { max(0, server.welcomes.withLock { $0.count } - 1) }

        private init(client: P2PClient, server: FakeServer, senders: [NodeID], barrierSender: NodeID, directory: String, model: Locked<ClientEngineModel>, consumer: Task<Void, Never>, arrived: DispatchSemaphore) {
            self.arrived = arrived
            self.client = client
            self.server = server
            self.senders = senders
            self.barrierSender = barrierSender
            self.directory = directory
            self.model = model
            self.consumer = consumer
        }

        static func start(random: FuzzRandom) async throws -> Session {
            var random = random
            let server = try await FakeServer.start()
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("p2pcore-fuzz-client-\(getpid())-\(UInt64.random(in: 0...UInt64.max))").path
            var configuration = ClientConfiguration(servers: ["127.0.0.1:\(server.listener.port)"])
            configuration.stateDirectory = directory
            configuration.secret = FakeServer.clusterSecret
            configuration.clusterKey = server.clusterKey.fingerprint
            configuration.directTunnels = false
            let client: P2PClient
            do {
                client = try await P2PClient.start(configuration, logger: Logger(label: "fuzz.client") { _ in SwiftLogNoOpLogHandler() })
            } catch {
                await server.stop()
                try? FileManager.default.removeItem(atPath: directory)
                throw error
            }
            let senders = (0..<3).map { _ in NodeID(bytes: random.bytes(16)) ?? .random() }
            let barrierSender = NodeID(bytes: random.bytes(16)) ?? .random()
            let model = Locked(ClientEngineModel())
            let arrived = DispatchSemaphore(value: 0)
            let consumer = Task {
                do {
                    for try await message in client.receive() {
                        model.withLock { Self.check(message, &$0) }
                        if message.from == barrierSender { arrived.signal() }
                    }
                } catch {
                    model.withLock { $0.violations.append("receive() threw \(error)") }
                }
            }
            let session = Session(client: client, server: server, senders: senders, barrierSender: barrierSender, directory: directory, model: model, consumer: consumer, arrived: arrived)
            return session
        }

        /// The receiving side's invariants, for one message handed out.
        static func check(_ message: ReceivedMessage, _ model: inout ClientEngineModel) {
            let id = message.id
            if message.from != id.sender { model.violations.append("\(id) handed out as from \(message.from)") }
            if !model.handed.insert(id).inserted { model.violations.append("\(id) handed out twice") }
            if model.pushed[id]?.contains(message.data) != true {
                model.violations.append("\(id) handed out with a payload never pushed (\(message.data.count) bytes)")
            }
            let through = model.handedThrough[id.sender] ?? 0
            if id.sequence <= through {
                model.violations.append("\(id) handed out after sequence \(through)")
            } else {
                let gap = id.sequence - through - 1
                if gap > UInt64(model.skips.count) {
                    model.violations.append("\(id) handed out after \(through): \(gap) sequences passed over, fewer skips pushed")
                } else if gap > 0 {
                    for sequence in (through + 1)..<id.sequence where !model.skips.contains(MessageID(sender: id.sender, sequence: sequence)) {
                        model.violations.append("\(id) handed out after \(through): \(sequence) passed over without a skip")
                        break
                    }
                }
                model.handedThrough[id.sender] = id.sequence
            }
        }

        func takeViolations() -> FuzzVerdict {
            let found = model.withLock { model -> [String] in
                defer { model.violations.removeAll() }
                return model.violations
            }
            return found.isEmpty ? .ok : .violation(found.prefix(3).joined(separator: "; "))
        }

        // MARK: Pushing

        func push(_ random: inout FuzzRandom) {
            switch random.below(100) {
            case 0..<60:
                pushDeliver(&random)
            case 60..<80:
                // A mutation of a valid push: sent when the client is to accept it (it decodes and
                // is no welcome or refusal), or as the rare frame that makes it redial.
                let valid = random.oneIn(2) ? ServerPush.deliver(sample(&random)).encoded() : FramesDriver.serverPush(&random).encoded()
                let bytes = Mutator.mutate(valid, random: &random)
                send(bytes, breakingAllowed: random.oneIn(2_000))
            case 80..<95:
                let push = FramesDriver.serverPush(&random)
                send(push.encoded(), breakingAllowed: random.oneIn(500))
            default:
                send(random.bytes(random.below(64)), breakingAllowed: random.oneIn(1_000))
            }
        }

        /// A valid deliver: usually the sender's next sequence, sometimes one ahead of it (a gap,
        /// filled later) or one already pushed (a duplicate).
        private func pushDeliver(_ random: inout FuzzRandom) {
            let message = canonical(&random)
            record(message)
            try? link()?.send(type: ClientProtocol.pushFrame, ServerPush.deliver(message).encoded())
        }

        /// A deliver near the senders' sequences, not recorded as canonical (for mutation).
        private func sample(_ random: inout FuzzRandom) -> MailMessage {
            let index = random.below(senders.count)
            let fresh = counters.withLock { $0.nextFresh[index] }
            let sequence = UInt64(max(1, Int(fresh) - 2 + random.below(5)))
            let payload = [UInt8(index)] + sequence.bigEndianBytes + random.bytes(random.below(16))
            return MailMessage(id: MessageID(sender: senders[index], sequence: sequence), recipient: client.id, payload: payload, enqueuedAtMillis: 1, isSkip: random.oneIn(8))
        }

        /// The link to push on; a new one (after a redial) first gets everything not handed out yet.
        private func link() -> Link? {
            guard let now = server.current() else { return nil }
            let isNew = servedLink.withLock { served in
                defer { served = now }
                return served !== now
            }
            if isNew { repush(on: now) }
            return now
        }

        /// The canonical content of an id chosen for a deliver (fixed at its first use).
        private func canonical(_ random: inout FuzzRandom) -> MailMessage {
            let index = random.below(senders.count)
            let sender = senders[index]
            let sequence: UInt64 = counters.withLock { counters in
                let fresh = counters.nextFresh[index]
                switch random.below(10) {
                case 0..<6:
                    counters.nextFresh[index] += 1
                    return fresh
                case 6..<8: return fresh + 1 + UInt64(random.below(3))
                default: return UInt64(max(1, Int(fresh) - 1 - random.below(4)))
                }
            }
            let id = MessageID(sender: sender, sequence: sequence)
            return model.withLock { model in
                if let known = model.canonical[id] { return known }
                let payload = [UInt8(index)] + sequence.bigEndianBytes + random.bytes(random.below(16))
                let message = MailMessage(id: id, recipient: client.id, payload: payload, enqueuedAtMillis: 1, isSkip: random.oneIn(8))
                model.canonical[id] = message
                return message
            }
        }

        private func record(_ message: MailMessage) {
            guard message.recipient == client.id else { return }
            model.withLock { model in
                if message.isSkip { model.skips.insert(message.id) } else { model.pushed[message.id, default: []].insert(message.payload) }
            }
        }

        /// Sends `bytes` as a push if the client is to accept it, or if `breakingAllowed`.
        private func send(_ bytes: [UInt8], breakingAllowed: Bool) {
            let decoded = try? ServerPush(decoding: bytes)
            switch decoded {
            case .none, .welcome?, .refused?:
                guard breakingAllowed else { return }
            case .deliver(let message)?:
                // The barrier's sender is the fake's own: its order must stay intact.
                guard message.id.sender != barrierSender else { return }
                record(message)
            default:
                break
            }
            try? link()?.send(type: ClientProtocol.pushFrame, bytes)
        }

        // MARK: Barriers

        /// Pushes the barrier sender's next message and waits until the client hands it out,
        /// pushing again what a redial may have lost; a description of the stall if it does not.
        func barrier() -> String? {
            let sequence = counters.withLock { counters in
                counters.barrier += 1
                return counters.barrier
            }
            let message = MailMessage(id: MessageID(sender: barrierSender, sequence: sequence), recipient: client.id, payload: sequence.bigEndianBytes, enqueuedAtMillis: 1)
            record(message)
            model.withLock { $0.canonical[message.id] = message }
            try? link()?.send(type: ClientProtocol.pushFrame, ServerPush.deliver(message).encoded())
            let deadline = ContinuousClock.now + ClientEngineDriver.stallLimit
            while ContinuousClock.now < deadline {
                if model.withLock({ ($0.handedThrough[barrierSender] ?? 0) >= sequence }) { return nil }
                _ = arrived.wait(timeout: .now() + .milliseconds(20))
                _ = link()  // pushes everything again on a new link
            }
            return "client stalled: barrier \(sequence) not handed out within \(ClientEngineDriver.stallLimit) (\(reconnects) reconnects)"
        }

        /// What a server pushes on a new subscription: every id not handed out yet.
        private func repush(on link: Link) {
            let pending = model.withLock { model in
                model.canonical.values.filter { $0.id.sequence > model.handedThrough[$0.id.sender] ?? 0 }.sorted { $0.id.sequence < $1.id.sequence }
            }
            for message in pending { try? link.send(type: ClientProtocol.pushFrame, ServerPush.deliver(message).encoded()) }
        }

        /// After a last barrier: waits (at most ``ClientEngineDriver/stallLimit``) until, per
        /// sender, every non-skip message of the contiguous run of pushed sequences from 1 was
        /// handed out. The barrier alone does not say so: senders are ordered only among their
        /// own messages, and a redial pushes everything again by sequence number, so the
        /// barrier's (low) sequence may go ahead of another sender's later ones.
        func awaitComplete() -> String? {
            let deadline = ContinuousClock.now + ClientEngineDriver.stallLimit
            while ContinuousClock.now < deadline {
                if checkComplete() == nil { return nil }
                _ = arrived.wait(timeout: .now() + .milliseconds(20))
                _ = link()  // pushes everything again on a new link
            }
            return checkComplete()
        }

        /// Per sender, every non-skip message of the contiguous run of pushed sequences from 1
        /// was handed out; else which was not.
        private func checkComplete() -> String? {
            model.withLock { model in
                for sender in senders {
                    var sequence: UInt64 = 1
                    var lastMessage: UInt64 = 0
                    while let message = model.canonical[MessageID(sender: sender, sequence: sequence)] {
                        if !message.isSkip && !model.skips.contains(message.id) { lastMessage = sequence }
                        sequence += 1
                    }
                    if (model.handedThrough[sender] ?? 0) < lastMessage {
                        return "sender \(sender): sequences 1...\(sequence - 1) pushed, only \(model.handedThrough[sender] ?? 0) handed out"
                    }
                }
                return nil
            }
        }

        func stop() async {
            await client.shutdown()
            consumer.cancel()
            await consumer.value
            await server.stop()
            try? FileManager.default.removeItem(atPath: directory)
        }
    }
}
