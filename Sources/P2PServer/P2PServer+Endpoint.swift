import Logging
import P2PClient
import P2PCore
import Synchronization

/// A server is an endpoint too: clients send to its id and it sends to theirs, with the same
/// guarantees as between clients (FIFO, exactly once, `send` returns once the recipient's
/// application has the message). The endpoint is a ``P2PClient`` with the server's identity,
/// attached to the server itself over its own listener; its mailbox lives in the replicated
/// state like any client's, and its ledger in `<data directory>/endpoint`.
extension P2PServer {
    /// Sends `data` to the client `recipient` and returns once its application received it.
    ///
    /// Throws what ``P2PClient/send(to:data:timeout:)`` throws (a `SendError` that tells a
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
    func endpoint(within timeout: Duration) async throws -> P2PClient {
        if let endpoint = endpointBox.withLock({ $0 }) { return endpoint }
        let request = endpointWaiters.nextRequest()
        do {
            return try await endpointWaiters.wait(for: request, timeout: timeout) {
                // It may have attached between the check above and this registration.
                if let endpoint = endpointBox.withLock({ $0 }) { endpointWaiters.resolve(request, with: endpoint) }
            }
        } catch is PendingReplies<P2PClient>.TimedOut {
            throw EndpointError.notReady
        }
    }

    /// Attaches the endpoint to this server (retrying until the cluster accepts it).
    func startEndpoint(port: Int) async {
        let host = HostPort.isWildcard(configuration.listenHost) ? "127.0.0.1" : configuration.listenHost
        var clientConfiguration = ClientConfiguration(servers: [HostPort(host: host, port: port).description])
        clientConfiguration.stateDirectory = configuration.dataDirectory + "/endpoint"
        clientConfiguration.secret = configuration.secret
        clientConfiguration.clusterKey = clusterKey.fingerprint
        clientConfiguration.listenHost = host
        var endpointLogger = logger
        endpointLogger.logLevel = max(logger.logLevel, .notice)
        var failures = 0
        while !Task.isCancelled {
            do {
                let endpoint = try await P2PClient.start(clientConfiguration, identity: identity, logger: endpointLogger)
                endpointBox.withLock { $0 = endpoint }
                endpointWaiters.resolveAll(with: endpoint)
                logger.debug("server endpoint attached")
                return
            } catch {
                failures += 1
                logger.log(level: failures % 10 == 0 ? .warning : .debug, "server endpoint not attached yet: \(error)")
            }
            do { try await Task.sleep(for: .seconds(1)) } catch { return }
        }
    }

    func stopEndpoint() async {
        endpointWaiters.failAll(EndpointError.notReady)
        guard let endpoint = endpointBox.withLock({ state in
            defer { state = nil }
            return state
        }) else { return }
        await endpoint.shutdown()
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
                messages = try await server.endpoint(within: .seconds(365 * 86_400)).receive().makeAsyncIterator()
            }
            return try await messages?.next()
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(server: self.server) }
}
