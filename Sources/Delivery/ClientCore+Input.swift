import MessageModel
import P2PCore

extension ClientCore {
    /// Everything that can happen to a client's delivery state. Each goes in with the logical
    /// time `now` (milliseconds, never decreasing) through ``ClientCore/step(_:now:)``.
    public enum Input: Equatable, Sendable {
        // MARK: Time
        /// Time passed: deadlines at or before `now` fire (send deadlines, direct attempts,
        /// retries). Feed it at ``ClientCore/nextDeadline`` (or on any periodic ticker).
        case tick

        // MARK: Sending
        /// The application asks to send `payload` to `recipient`, waiting at most `timeout`
        /// milliseconds for the acknowledgement. The shell has checked what it can beforehand
        /// (size limit, recipient known to the cluster, some path available); from here on the
        /// core asks for the outbox entry and owns the message. `expiresAt` (milliseconds since
        /// 1970, by the shell's wall clock): the message's expiry; such a message goes only
        /// through the relay (docs/DELIVERY.md, "Expiry").
        case send(SendToken, to: NodeID, payload: [UInt8], timeout: UInt64, expiresAt: UInt64? = nil)
        /// The servers `recipient` is attached to, from the registry (relay attempts prefer them).
        case recipientServers(NodeID, [NodeID])
        /// A server answered a relay offer of `key` (``Directive/relay(_:to:)``) — even late.
        case relayAnswer(OutboxKey, from: NodeID, SendResult)
        /// A relay offer of `key` to `server` got no answer (link closed, or the shell's own
        /// request timeout): retry after the backoff. (Without it the core gives up waiting
        /// after ``Configuration/attemptTimeout``.)
        case relayFailed(OutboxKey, server: NodeID)
        /// A server pushed "the recipient acknowledged `id`" (a committed acknowledgement).
        case receipt(recipient: NodeID, id: MessageID)
        /// A server pushed "`id` expired" (a committed expiry): it will never be delivered.
        case expiryReceipt(recipient: NodeID, id: MessageID)
        /// `peer` acknowledged this client's message `sequence` on a direct link.
        case directAcknowledgement(from: NodeID, sequence: UInt64)
        /// A ``Directive/sendDirect(_:)`` could not go out (no direct link to the recipient any
        /// more, or it failed): the relay takes over at once.
        case directSendFailed(OutboxKey)

        // MARK: Receiving
        /// A server pushed a message (or skip) from this client's mailbox.
        case relayedMessage(MailMessage, from: NodeID)
        /// Another client sent a message on direct link `link`. The shell checked that the link's
        /// peer is the message's sender (skips never come directly; the core ignores them).
        case directMessage(MailMessage, link: DirectLinkID)
        /// `server` answered the ``Directive/claim(_:to:)`` of `id` (`nil`: no answer in time).
        case claimAnswer(MessageID, from: NodeID, ClaimResult?)
        /// The application waits for the next message (one receiver at a time).
        case receive
        /// The application waits for up to `upTo` messages, handed over together: their
        /// deliveries are recorded in one ledger batch (one sync), then all go in one step.
        case receiveBatch(upTo: Int)
        /// The application stopped waiting (it is handed the message later, if one was on its way).
        case receiveCancelled

        // MARK: Ledger
        /// The executor made batch `batch` durable; `prepared` are the ids the ledger assigned to
        /// its ``LedgerOperation/prepare(recipient:payload:)`` operations, in order.
        case persisted(batch: UInt64, prepared: [MessageID])
        /// Batch `batch` could not be written (nothing of it is durable).
        case persistFailed(batch: UInt64)

        // MARK: Paths
        /// A link to `server` is up and it proved to be a server of the trusted cluster.
        case serverConnected(NodeID)
        /// The link to `server` is gone.
        case serverDisconnected(NodeID)
        /// The peers this client has a direct path to right now (all of them, replacing the last set).
        case directPeers(Set<NodeID>)

        /// The client shuts down: every waiting send finishes with ``SendFailure/stopped``; later
        /// inputs are ignored.
        case stop
    }

    /// What the core asks its shell to do, in order. A shell may crash between any two; the
    /// ledger then holds what a restarted core needs (see ``LedgerContents``).
    public enum Directive: Equatable, Sendable {
        /// Write `batch` to the ledger and answer ``Input/persisted(batch:prepared:)``.
        case persist(LedgerBatch)
        /// Offer `message` on the direct path to `message.recipient` (answer
        /// ``Input/directSendFailed(_:)`` if there is none); its acknowledgement comes back as
        /// ``Input/directAcknowledgement(from:sequence:)``.
        case sendDirect(MailMessage)
        /// Offer `message` to `server` for the recipient's mailbox (`ClientRequest.send`); its
        /// answer comes back as ``Input/relayAnswer(_:from:_:)``.
        case relay(MailMessage, to: NodeID)
        /// Ask `server` to push this client's mail (one server does at a time).
        case subscribe(NodeID)
        /// Claim the received `id`, which carries an expiry, from `server` before delivering it
        /// (`ClientRequest.claim`); the answer comes back as ``Input/claimAnswer(_:from:_:)``.
        case claim(MessageID, to: NodeID)
        /// Acknowledge the received `id` to `server` (`ClientRequest.acknowledge`).
        case acknowledgeRelayed(MessageID, to: NodeID)
        /// Acknowledge the received `id` on direct link `link`.
        case acknowledgeDirect(MessageID, on: DirectLinkID)
        /// Hand `message` to the waiting application (its ``Input/receive``); it is durably
        /// recorded as delivered already.
        case handOver(MailMessage)
        /// The `send` named by the token is over: the recipient acknowledged the id, or why not.
        case finishSend(SendToken, Result<MessageID, SendFailure>)
    }
}
