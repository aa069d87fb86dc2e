import Logging
import P2PClient
import P2PCore

/// A server is an endpoint too (``ServerEndpoint``): clients send to its id and it sends to
/// theirs, with the same guarantees as between clients (FIFO, exactly once, `send` returns once
/// the recipient's application has the message).
extension P2PServer {
    /// Sends `data` to the client `recipient` and returns once its application received it.
    ///
    /// Throws what `P2PClient.send(to:data:timeout:)` throws (a `SendError` that tells a
    /// message that will still be delivered from one that was not accepted), or
    /// ``EndpointError/notReady`` if this server's endpoint has not attached within `timeout`.
    @discardableResult
    public func send(to recipient: NodeID, data: [UInt8], timeout: Duration = .seconds(30)) async throws -> MessageID {
        let started = ContinuousClock.now
        let endpoint = try await endpoint(within: timeout)
        return try await endpoint.send(to: recipient, data: data, timeout: timeout - (ContinuousClock.now - started))
    }

    /// Messages clients sent to this server: exactly once, in order per sender. Iterate it from
    /// one task; a message counts as delivered when the iterator hands it out.
    public func receive() -> ServerMessages { ServerMessages(server: self) }

    /// Returns once this server is part of a cluster that has a leader and clients can send to
    /// its id; throws ``EndpointError/notReady`` after `timeout`.
    public func waitUntilReady(timeout: Duration = .seconds(30)) async throws {
        _ = try await endpoint(within: timeout)
    }

    /// Why the server's endpoint could not be used.
    public enum EndpointError: Error, Equatable, Sendable {
        /// The server has not attached its endpoint to itself in time (the cluster has no leader
        /// yet, or the server is shutting down).
        case notReady
    }

    /// The endpoint, once attached.
    func endpoint(within timeout: Duration?) async throws -> P2PClient {
        guard let client = await ownEndpoint.client.wait(timeout: timeout) else { throw EndpointError.notReady }
        return client
    }
}

/// Messages clients sent to a ``P2PServer``, from its ``P2PServer/receive()``.
public struct ServerMessages: AsyncSequence, Sendable {
    public typealias Element = ReceivedMessage
    let server: P2PServer

    public struct AsyncIterator: AsyncIteratorProtocol {
        let server: P2PServer
        var messages: ReceivedMessages.AsyncIterator?

        public mutating func next() async throws -> ReceivedMessage? {
            if messages == nil {
                // Waits for the endpoint as long as the caller waits for a message.
                messages = try await server.endpoint(within: nil).receive().makeAsyncIterator()
            }
            return try await messages?.next()
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(server: self.server) }
}
