import P2PCore
import Synchronization

/// Receipts waiting to go to other servers: gathered while a flush is pending, so that a burst
/// of acknowledgements travels as one peer message per server instead of one each.
final class ReceiptOutbox: Sendable {
    private let pending = Mutex<(byServer: [NodeID: [DeliveryReceipt]], flushScheduled: Bool)>(([:], false))
    private let send: @Sendable (PeerMessage, NodeID) -> Void

    /// `send` carries one peer message to one server (best effort: a lost receipt is made good
    /// when the acknowledgement commits).
    init(send: @escaping @Sendable (PeerMessage, NodeID) -> Void) {
        self.send = send
    }

    /// Queues `receipt` for `server`; the first receipt of a burst schedules the flush.
    func add(_ receipt: DeliveryReceipt, for server: NodeID) {
        let mustSchedule = pending.withLock { pending in
            pending.byServer[server, default: []].append(receipt)
            defer { pending.flushScheduled = true }
            return !pending.flushScheduled
        }
        if mustSchedule { Task { self.flush() } }
    }

    private func flush() {
        let byServer = pending.withLock { pending in
            defer {
                pending.byServer.removeAll(keepingCapacity: true)
                pending.flushScheduled = false
            }
            return pending.byServer
        }
        for (server, receipts) in byServer {
            var start = 0
            while start < receipts.count {
                let end = min(start + DeliveryReceipt.maximumPerMessage, receipts.count)
                send(.receipts(Array(receipts[start..<end])), server)
                start = end
            }
        }
    }
}
