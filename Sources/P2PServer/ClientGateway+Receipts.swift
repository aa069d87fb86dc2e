import Mailbox
import MessageModel
import P2PCore

/// Receipts off the critical path (docs/DELIVERY.md, "Receipts"): a recipient's acknowledgement
/// reaches its sender as soon as the server that took it has checked it, while the acknowledgement
/// itself commits in the background (it only frees the mailbox).
extension ClientGateway {
    /// Passes `recipient`'s acknowledgement of `id` on to the servers the sender is attached to,
    /// if this replica holds that message in `recipient`'s mailbox. The client is authenticated as
    /// `recipient`, so it can speak only of its own mail; a message this replica does not hold
    /// (not applied here yet, delivered directly, a skip, already acknowledged) gets its receipt
    /// when the acknowledgement commits, as before.
    func passOnReceipt(of id: MessageID, by recipient: NodeID, _ mailboxes: MailboxStore) {
        guard (try? mailboxes.holdsMessage(id, for: recipient)) == true,
              let sender = (try? mailboxes.client(id.sender)) ?? nil
        else { return }
        let receipt = DeliveryReceipt(recipient: recipient, id: id)
        for server in sender.attachedServers {
            if server == self.id {
                pushReceipts([receipt])
            } else {
                receiptOutbox.add(receipt, for: server)
            }
        }
    }

    /// Tells the senders attached here that their messages were delivered: the sessions that
    /// took those messages say it, once each, however many ways the receipt arrives.
    func pushReceipts(_ receipts: [DeliveryReceipt]) {
        var bySender: [NodeID: [DeliveryReceipt]] = [:]
        for receipt in receipts { bySender[receipt.id.sender, default: []].append(receipt) }
        for (sender, list) in bySender {
            for session in sessions.sessions(of: sender) {
                Task { await session.pushReceipts(list) }
            }
        }
    }
}
