import DequeModule
import NIOCore
import Synchronization
import WireCodec

/// The hand-off between ``Link/send(type:_:)`` and the link's writer: senders append without
/// waiting, and the writer takes what is queued in batches of up to ``batchBytes``, so that a
/// burst of frames is sealed and written with one flush (one socket write) instead of one each.
/// A batch counts as queued until the connection took all of it, so the link's queue bound
/// still holds against a peer that does not read.
final class OutboundFrameQueue: Sendable {
    /// Payload bytes in one batch at most (a larger frame goes alone).
    static let batchBytes = 256 << 10

    private struct State {
        var frames: Deque<Frame> = []
        var writer: CheckedContinuation<[Frame]?, Never>?
        var finished = false
        /// Set once the queue drains on an event loop instead (``drain(on:_:)``).
        var loop: (any EventLoop)?
        var drain: (@Sendable () -> Void)?
        var drainScheduled = false
    }

    private let state = Mutex(State())

    /// Queues `frame`; false once the queue is finished.
    func push(_ frame: Frame) -> Bool {
        let (accepted, writer, drain): (Bool, CheckedContinuation<[Frame]?, Never>?, (any EventLoop, @Sendable () -> Void)?) = state.withLock { state in
            guard !state.finished else { return (false, nil, nil) }
            if let writer = state.writer {
                state.writer = nil
                return (true, writer, nil)
            }
            state.frames.append(frame)
            return (true, nil, Self.scheduleDrain(&state))
        }
        writer?.resume(returning: [frame])
        if let (loop, drain) = drain { loop.execute(drain) }
        return accepted
    }

    /// From now on, `drain` runs on `loop` whenever frames are queued (and at once if some are),
    /// and takes them with ``takeForDrain()``: frames pushed while a drain is scheduled share it.
    /// For a TCP link, whose writes then need no task of their own.
    func drain(on loop: any EventLoop, _ drain: @escaping @Sendable () -> Void) {
        let start = state.withLock { state in
            state.loop = loop
            state.drain = drain
            return Self.scheduleDrain(&state)
        }
        if let (loop, drain) = start { loop.execute(drain) }
    }

    /// In a drain: everything queued, in order (empty once finished and drained).
    func takeForDrain() -> [Frame] {
        state.withLock { state in
            state.drainScheduled = false
            defer { state.frames.removeAll() }
            return Array(state.frames)
        }
    }

    /// A finished queue lets go of its drain (which holds the link's writer, which holds the
    /// link, which holds this queue); one already scheduled still runs.
    private static func releaseDrain(_ state: inout State) {
        state.loop = nil
        state.drain = nil
    }

    private static func scheduleDrain(_ state: inout State) -> (any EventLoop, @Sendable () -> Void)? {
        guard let loop = state.loop, let drain = state.drain, !state.drainScheduled, !state.frames.isEmpty else { return nil }
        state.drainScheduled = true
        return (loop, drain)
    }

    /// Ends the queue: the writer gets what is queued, then `nil`.
    func finish() {
        let writer = state.withLock { state in
            state.finished = true
            Self.releaseDrain(&state)
            defer { state.writer = nil }
            return state.writer
        }
        writer?.resume(returning: nil)
    }

    /// Ends the queue and throws away what it holds; returns the payload bytes thrown away.
    func drop() -> Int {
        let (dropped, writer) = state.withLock { state in
            state.finished = true
            Self.releaseDrain(&state)
            let bytes = state.frames.reduce(0) { $0 + $1.payload.readableBytes }
            state.frames.removeAll()
            defer { state.writer = nil }
            return (bytes, state.writer)
        }
        writer?.resume(returning: nil)
        return dropped
    }

    /// The next frames queued (a batch), waiting for one if none is; `nil` once the queue is
    /// finished and drained, or the calling task is cancelled.
    func next() async -> [Frame]? {
        if let ready = takeQueued() { return ready }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<[Frame]?, Never>) in
                let outcome: [Frame]?? = state.withLock { state in
                    if !state.frames.isEmpty { return .some(Self.takeBatch(&state.frames)) }
                    if state.finished || Task.isCancelled { return .some(nil) }
                    state.writer = continuation
                    return .none
                }
                if let outcome { continuation.resume(returning: outcome) }
            }
        } onCancel: {
            let writer = state.withLock { state in
                defer { state.writer = nil }
                return state.writer
            }
            writer?.resume(returning: nil)
        }
    }

    /// A batch of what is queued, if anything, without waiting.
    private func takeQueued() -> [Frame]? {
        state.withLock { state in
            state.frames.isEmpty ? nil : Self.takeBatch(&state.frames)
        }
    }

    /// Removes and returns the first frames, up to ``batchBytes`` of payload (at least one frame).
    private static func takeBatch(_ frames: inout Deque<Frame>) -> [Frame] {
        var batch: [Frame] = []
        var bytes = 0
        while let first = frames.first, batch.isEmpty || bytes + first.payload.readableBytes <= batchBytes {
            bytes += first.payload.readableBytes
            batch.append(first)
            frames.removeFirst()
        }
        return batch
    }
}
