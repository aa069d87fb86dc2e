import ClientProtocol
import MessageModel
import P2PCore
import Synchronization
import Transport
import WireCodec

/// How a simulated send ended.
public enum SendOutcome: Sendable, Equatable {
    /// The recipient acknowledged it (the server passed the receipt on).
    case delivered
    /// A server stored it (committed on a quorum); no receipt was awaited, or none came in time.
    case stored
    /// It expired in the cluster.
    case expired
    /// No server stored it in time, or one refused it for good.
    case failed(String)
}

extension SimulatedClient {
    /// Pipelining: hands `message` to server number `server` (another attached one if that is
    /// not attached) right now, so that messages go out in call order; the answer comes with
    /// ``answer(to:timeout:)``. `nil`: no attached server, or the link refused the frame.
    public func transmit(_ message: MailMessage, to server: Int) -> UInt64? {
        guard let (_, link) = pickLink(preferring: server) else { return nil }
        let request = replies.nextRequest()
        pipelined.expect(request)
        do {
            try link.send(type: ClientProtocol.requestFrame, ClientRequest.send(request: request, message: message).encoded())
        } catch {
            pipelined.cancel(request)
            return nil
        }
        return request
    }

    /// The server's answer to a ``transmit(_:to:)``, or `nil` if none came within `timeout`.
    public func answer(to request: UInt64, timeout: Duration) async -> SendResult? {
        await pipelined.wait(request, timeout: timeout)
    }

    /// One relay attempt: hands `message` to server number `server` (or a random attached one)
    /// and returns its answer, or `nil` if there was no attached server or no answer within the
    /// attempt timeout.
    public func offer(_ message: MailMessage, to server: Int? = nil, timeout: Duration? = nil) async -> SendResult? {
        guard let (_, link) = pickLink(preferring: server) else { return nil }
        let request = replies.nextRequest()
        let bytes = ClientRequest.send(request: request, message: message).encoded()
        let answer = try? await replies.wait(for: request, timeout: timeout ?? configuration.attemptTimeout, origin: link.peer.id) {
            try link.send(type: ClientProtocol.requestFrame, bytes)
        }
        guard case .sendResult(_, let result)? = answer else { return nil }
        return result
    }

    /// Sends `payload` to `recipient` as the real client's relay path does: offers it to a random
    /// attached server, tries again (the same id, so the servers deduplicate) after an attempt
    /// timeout or an `unavailable` answer, until a server stored it; then, with
    /// `waitForReceipt`, waits for the recipient's acknowledgement. Everything within `timeout`.
    public func send(to recipient: NodeID, payload: [UInt8], waitForReceipt: Bool, timeout: Duration) async -> SendOutcome {
        let message = makeMessage(to: recipient, payload: payload)
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        let key = ReceiptKey(recipient: recipient, id: message.id)
        if waitForReceipt { receipts.expect(key) }
        var lastProblem = "no attached server"
        var isStored = false
        stored: while clock.now < deadline, isRunning {
            let remaining = deadline - clock.now
            switch await offer(message, timeout: min(configuration.attemptTimeout, remaining)) {
            case .stored?:
                isStored = true
                break stored
            case .alreadyDelivered?:
                receipts.cancel(key)
                return .delivered
            case .expired?:
                receipts.cancel(key)
                return .expired
            case .unavailable(let reason)?:
                lastProblem = reason
            case let refusal?:
                receipts.cancel(key)
                return .failed("\(refusal)")
            case nil:
                lastProblem = "no answer within the attempt timeout (or no attached server)"
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
        guard isStored else {
            receipts.cancel(key)
            return .failed(lastProblem)
        }
        guard waitForReceipt else { return .stored }
        switch await receipts.wait(key, timeout: deadline - clock.now) {
        case true?: return .delivered
        case false?: return .expired
        case nil: return .stored
        }
    }
}
