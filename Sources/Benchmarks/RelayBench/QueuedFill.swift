import DequeModule
import MessageModel
import P2PCore
import SimulatedClients
import Synchronization

/// Fills offline recipients' mailboxes fast: each sender pipelines its messages on one server
/// link (`window` in flight, in order) and waits only for the server's answer — "stored" once a
/// quorum committed it —, offering again (the same id) what got no answer or `unavailable`.
struct QueuedFill {
    let senders: [SimulatedClient]
    let recipients: [NodeID]
    let messages: Int
    let payload: [UInt8]
    let window: Int
    /// The whole fill's deadline.
    let timeout: Duration

    struct Result: Sendable {
        var stored = 0
        var retries = 0
        var refused = 0
        var firstRefusal: String?
        var elapsed: Duration = .zero
        var timedOut = false
    }

    /// The messages of sender number `index`: message `k` of the fill goes to recipient `k % M`,
    /// from sender `k % S`.
    private func share(of index: Int) -> Int {
        messages / senders.count + (index < messages % senders.count ? 1 : 0)
    }

    func run(progress: @escaping @Sendable (Int) -> Void) async -> Result {
        let total = Locked(Result())
        let stored = Locked(0)
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start + timeout
        let reporter = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(5))
                progress(stored.withLock { $0 })
            }
        }
        await withDiscardingTaskGroup { group in
            for (index, sender) in senders.enumerated() {
                group.addTask {
                    let result = await fill(from: sender, index: index, deadline: deadline, stored: stored)
                    total.withLock { sum in
                        sum.stored += result.stored
                        sum.retries += result.retries
                        sum.refused += result.refused
                        sum.timedOut = sum.timedOut || result.timedOut
                        if sum.firstRefusal == nil { sum.firstRefusal = result.firstRefusal }
                    }
                }
            }
        }
        reporter.cancel()
        return total.withLock { result in
            result.elapsed = clock.now - start
            return result
        }
    }

    private func fill(from sender: SimulatedClient, index: Int, deadline: ContinuousClock.Instant, stored: Locked<Int>) async -> Result {
        var result = Result()
        let clock = ContinuousClock()
        let server = index % max(1, sender.configuration.servers.count)
        var pending: Deque<(request: UInt64?, message: MailMessage)> = []
        var next = 0
        let count = share(of: index)
        while (next < count || !pending.isEmpty), clock.now < deadline {
            if next < count, pending.count < window {
                let message = sender.makeMessage(to: recipients[(index + next * senders.count) % recipients.count], payload: payload)
                pending.append((sender.transmit(message, to: server), message))
                next += 1
                continue
            }
            let (request, message) = pending.removeFirst()
            let answer: SendResult?
            if let request { answer = await sender.answer(to: request, timeout: .seconds(10)) } else { answer = nil }
            switch answer {
            case .stored?, .alreadyDelivered?:
                result.stored += 1
                if result.stored % 1000 == 0 { stored.withLock { $0 += 1000 } }
            case nil, .unavailable?:
                result.retries += 1
                if answer == nil, request == nil { try? await Task.sleep(for: .milliseconds(100)) }
                pending.append((sender.transmit(message, to: server), message))
            case let refusal?:
                result.refused += 1
                if result.firstRefusal == nil { result.firstRefusal = "\(refusal)" }
            }
        }
        result.timedOut = next < count || !pending.isEmpty
        return result
    }
}
