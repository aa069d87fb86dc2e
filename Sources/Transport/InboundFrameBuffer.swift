import DequeModule
import Synchronization
import WireCodec

/// The bounded hand-off between a link's reader and its consumer (``LinkInbound``).
///
/// The reader waits for room (``waitForRoom()``) before it pulls the next frame from the pipe, so
/// at most `capacity` frames wait for the consumer; meanwhile the pipe's own backpressure stops
/// reading from the socket. The consumer gets the buffered frames in order, then `nil` once the
/// buffer finished, or the error it failed with (once, then `nil`).
final class InboundFrameBuffer: Sendable {
    private enum Ending {
        case finished
        case failed(any Error)
    }

    private struct State {
        var frames: Deque<Frame> = []
        var ending: Ending?
        var consumers: Deque<(id: UInt64, continuation: CheckedContinuation<Frame?, any Error>)> = []
        var producer: CheckedContinuation<Bool, Never>?
        /// A producer on an event loop (``hasRoom(orCall:)``) to call once there is room.
        var roomCallback: (@Sendable () -> Void)?
        var lastConsumer: UInt64 = 0
        /// Takes frames before they are buffered (``intercept(_:)``).
        var interceptor: (@Sendable (Frame) -> Bool)?
    }

    /// Frames buffered before the reader stops pulling.
    let capacity: Int
    private let state = Mutex(State())

    init(capacity: Int) {
        self.capacity = max(capacity, 1)
    }

    /// Frames received and not yet consumed.
    var bufferedCount: Int { state.withLock { $0.frames.count } }

    /// Whether the reader waits for room (for tests).
    var readerIsWaiting: Bool { state.withLock { $0.producer != nil } }

    // MARK: Reader

    /// Returns true once fewer than `capacity` frames are unconsumed, false once the buffer has
    /// ended (the reader then stops).
    func waitForRoom() async -> Bool {
        // Usually there is room: no continuation then.
        if let ready = room(orWait: nil) { return ready }
        return await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            if let ready = room(orWait: continuation) { continuation.resume(returning: ready) }
        }
    }

    /// For a producer that cannot wait (an event loop's handler): true if fewer than `capacity`
    /// frames are unconsumed; else false, and `callback` runs (once, on the consumer's thread)
    /// when there is room. An ended buffer has room: its producer stops on its own.
    func hasRoom(orCall callback: @escaping @Sendable () -> Void) -> Bool {
        state.withLock { state in
            if state.ending != nil || state.frames.count < capacity { return true }
            state.roomCallback = callback
            return false
        }
    }

    /// Whether the reader may go on (`nil`: no room yet; `producer`, if given, waits for it).
    private func room(orWait producer: CheckedContinuation<Bool, Never>?) -> Bool? {
        state.withLock { state in
            if state.ending != nil { return false }
            if state.frames.count < capacity { return true }
            if let producer { state.producer = producer }
            return nil
        }
    }

    /// From now on offers each frame to `take`, on the reader's thread, before buffering it;
    /// a frame `take` returns true for is its, and never reaches the consumer.
    func intercept(_ take: @escaping @Sendable (Frame) -> Bool) {
        state.withLock { $0.interceptor = take }
    }

    /// Hands a frame to the consumer (dropped if the buffer has ended).
    func push(_ frame: Frame) {
        if let take = state.withLock({ $0.ending == nil ? $0.interceptor : nil }), take(frame) { return }
        let consumer: CheckedContinuation<Frame?, any Error>? = state.withLock { state in
            guard state.ending == nil else { return nil }
            if let waiting = state.consumers.popFirst() { return waiting.continuation }
            state.frames.append(frame)
            return nil
        }
        consumer?.resume(returning: frame)
    }

    /// Ends the buffer: the consumer gets what is buffered, then `nil` (or `error`, once). Only the
    /// first ending counts.
    func finish(throwing error: (any Error)? = nil) {
        let (consumers, producer) = state.withLock { state in
            guard state.ending == nil else { return ([CheckedContinuation<Frame?, any Error>](), CheckedContinuation<Bool, Never>?.none) }
            state.ending = error.map { .failed($0) } ?? .finished
            // Consumers only wait on an empty buffer.
            let consumers = state.consumers.map(\.continuation)
            state.consumers.removeAll()
            if error != nil, !consumers.isEmpty { state.ending = .finished }
            // An ended buffer has room for good; its callback (which holds the producer) goes,
            // and so does the interceptor (which may hold the consumer's owner).
            state.roomCallback = nil
            state.interceptor = nil
            defer { state.producer = nil }
            return (consumers, state.producer)
        }
        producer?.resume(returning: false)
        for (index, consumer) in consumers.enumerated() {
            if let error, index == 0 {
                consumer.resume(throwing: error)
            } else {
                consumer.resume(returning: nil)
            }
        }
    }

    // MARK: Consumer

    /// The next frame; `nil` once the buffer finished (or the calling task is cancelled while it
    /// waits); throws the error the buffer failed with.
    func next() async throws -> Frame? {
        let id = state.withLock { state in
            state.lastConsumer += 1
            return state.lastConsumer
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Frame?, any Error>) in
                let (outcome, producer, roomCallback) = state.withLock { state -> (Result<Frame?, any Error>?, CheckedContinuation<Bool, Never>?, (@Sendable () -> Void)?) in
                    if let frame = state.frames.popFirst() {
                        var producer: CheckedContinuation<Bool, Never>?
                        var roomCallback: (@Sendable () -> Void)?
                        if state.frames.count < capacity {
                            producer = state.producer
                            state.producer = nil
                            roomCallback = state.roomCallback
                            state.roomCallback = nil
                        }
                        return (.success(frame), producer, roomCallback)
                    }
                    switch state.ending {
                    case .finished?:
                        return (.success(nil), nil, nil)
                    case .failed(let error)?:
                        state.ending = .finished
                        return (.failure(error), nil, nil)
                    case nil:
                        break
                    }
                    if Task.isCancelled { return (.success(nil), nil, nil) }
                    state.consumers.append((id, continuation))
                    return (nil, nil, nil)
                }
                producer?.resume(returning: true)
                roomCallback?()
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            let waiting = state.withLock { state -> CheckedContinuation<Frame?, any Error>? in
                guard let index = state.consumers.firstIndex(where: { $0.id == id }) else { return nil }
                return state.consumers.remove(at: index).continuation
            }
            waiting?.resume(returning: nil)
        }
    }
}
