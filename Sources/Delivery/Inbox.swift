import MessageModel
import P2PCore

extension ClientCore {
    /// A received copy and where it came from.
    struct Arrival: Sendable {
        let message: MailMessage
        let route: Route
    }

    /// The receiving half: per sender, what was delivered, what is next, and what waits.
    struct Inbox: Sendable {
        /// Per sender, the highest sequence durably handed to the application.
        var deliveredThrough: [NodeID: UInt64]
        /// Per sender, the next sequence not yet queued in `ready`.
        var nextExpected: [NodeID: UInt64] = [:]
        /// Copies ahead of a gap, per sender and sequence (the first copy of each is kept).
        var early: [NodeID: [UInt64: Arrival]] = [:]
        /// In-order messages to deliver, oldest first (from `readyHead` on).
        var ready: [Arrival] = []
        var readyHead = 0
        /// The ledger batch recording the delivery of `ready`'s first `markingCount` messages.
        var marking: UInt64?
        var markingCount = 0
        /// Messages durably delivered whose receiver had stopped waiting: the next ones get them.
        var handing: [Arrival] = []
        /// How many messages the waiting receiver takes at once (0: none waits).
        var wanted = 0
        /// The front message whose claim the cluster granted (it may be delivered now).
        var claimed: MessageID?
        /// The epoch of the front message's claim while it is asked or pauses before asking again.
        var claiming: UInt64?
        var claimEpoch: UInt64 = 0

        init(deliveredThrough: [NodeID: UInt64]) {
            self.deliveredThrough = deliveredThrough
        }

        var front: Arrival? { readyHead < ready.count ? ready[readyHead] : nil }

        /// The front message becomes its skip (the cluster expired or skipped it).
        mutating func passOverFront() {
            guard let front else { return }
            ready[readyHead] = Arrival(message: front.message.skip(), route: front.route)
        }

        mutating func popFront() {
            readyHead += 1
            if readyHead == ready.count {
                ready.removeAll(keepingCapacity: true)
                readyHead = 0
            } else if readyHead >= 1_024, readyHead * 2 >= ready.count {
                ready.removeFirst(readyHead)
                readyHead = 0
            }
        }
    }
}
