import P2PCore

/// A message handed to the application by ``P2PClient/receive()``.
public struct ReceivedMessage: Equatable, Sendable {
    public let from: NodeID
    public let data: [UInt8]
    /// The message's id: its sender and the sender's sequence number towards this client.
    public let id: MessageID
}

/// Messages from any sender, exactly once and in order per sender. Iterate it from one task.
///
/// A message counts as delivered — and its acknowledgement goes back to the sender — when the
/// iterator hands it out.
public struct ReceivedMessages: AsyncSequence, Sendable {
    public typealias Element = ReceivedMessage
    let engine: ClientEngine

    public struct AsyncIterator: AsyncIteratorProtocol {
        let engine: ClientEngine

        public mutating func next() async throws -> ReceivedMessage? {
            try await engine.nextMessage()
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(engine: engine) }
}

/// Batches of messages from any sender, exactly once and in order per sender (see
/// ``P2PClient/receive(upTo:)``). Iterate it from one task.
///
/// Each batch holds at least one message and at most the limit given. Its deliveries are
/// recorded with one ledger sync, and the whole batch is handed out at once: the messages of a
/// batch count as delivered, and are acknowledged, together.
public struct ReceivedBatches: AsyncSequence, Sendable {
    public typealias Element = [ReceivedMessage]
    let engine: ClientEngine
    let limit: Int

    public struct AsyncIterator: AsyncIteratorProtocol {
        let engine: ClientEngine
        let limit: Int

        public mutating func next() async throws -> [ReceivedMessage]? {
            try await engine.nextBatch(upTo: limit)
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(engine: engine, limit: limit) }
}
