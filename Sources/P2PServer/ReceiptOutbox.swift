import P2PCore

/// Receipts waiting to go to other servers: a burst of acknowledgements travels as one peer
/// message per server instead of one each (see ``Coalescer``).
final class ReceiptOutbox: Sendable {
    private let coalescer: Coalescer<(DeliveryReceipt, NodeID)>

    /// `send` carries one peer message to one server (best effort: a lost receipt is made good
    /// when the acknowledgement commits).
    init(send: @escaping @Sendable (PeerMessage, NodeID) -> Void) {
        coalescer = Coalescer { items in
            var byServer: [NodeID: [DeliveryReceipt]] = [:]
            var order: [NodeID] = []
            for (receipt, server) in items {
                if byServer[server] == nil { order.append(server) }
                byServer[server, default: []].append(receipt)
            }
            for server in order {
                let receipts = byServer[server] ?? []
                var start = 0
                while start < receipts.count {
                    let end = min(start + DeliveryReceipt.maximumPerMessage, receipts.count)
                    send(.receipts(Array(receipts[start..<end])), server)
                    start = end
                }
            }
        }
    }

    /// Queues `receipt` for `server`.
    func add(_ receipt: DeliveryReceipt, for server: NodeID) {
        coalescer.add((receipt, server))
    }
}
