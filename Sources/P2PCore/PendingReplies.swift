import Synchronization

/// Requests waiting for their reply, by request number, each with its own timeout.
///
/// A reply for a request nobody waits for any more (it timed out) is ignored, and so is a reply
/// that comes from somewhere else than where the request went (its `origin`, e.g. the link).
public final class PendingReplies<Value: Sendable>: Sendable {
    /// The request got no reply in time.
    public struct TimedOut: Error, Sendable {}

    private struct State {
        var nextRequest: UInt64 = 1
        var waiting: [UInt64: (origin: NodeID?, continuation: CheckedContinuation<Value, any Error>)] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// A fresh request number.
    public func nextRequest() -> UInt64 {
        state.withLock { state in
            defer { state.nextRequest += 1 }
            return state.nextRequest
        }
    }

    /// Registers `request`, runs `send` (which transmits it), and waits for ``resolve(_:with:from:)``.
    /// With an `origin`, only a reply resolved from that same origin is taken.
    /// Throws ``TimedOut`` after `timeout`, `send`'s error if it fails, or what ``failAll(_:)`` passes.
    public func wait(for request: UInt64, timeout: Duration, origin: NodeID? = nil, send: () throws -> Void) async throws -> Value {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Value, any Error>) in
            state.withLock { $0.waiting[request] = (origin, continuation) }
            do {
                try send()
            } catch {
                finish(request, .failure(error))
                return
            }
            Task { [weak self] in
                try? await Task.sleep(for: timeout)
                self?.finish(request, .failure(TimedOut()))
            }
        }
    }

    /// Hands `value` to the waiter of `request`, if it still waits and its request went out to `origin`.
    public func resolve(_ request: UInt64, with value: Value, from origin: NodeID? = nil) {
        let continuation = state.withLock { state -> CheckedContinuation<Value, any Error>? in
            guard let waiter = state.waiting[request], waiter.origin == nil || waiter.origin == origin else { return nil }
            state.waiting[request] = nil
            return waiter.continuation
        }
        continuation?.resume(returning: value)
    }

    /// Fails every waiter (e.g. the link they were sent on closed).
    public func failAll(_ error: any Error) {
        let all = state.withLock { state in
            defer { state.waiting.removeAll() }
            return state.waiting.values.map(\.continuation)
        }
        for continuation in all { continuation.resume(throwing: error) }
    }

    private func finish(_ request: UInt64, _ result: Result<Value, any Error>) {
        guard let waiter = state.withLock({ $0.waiting.removeValue(forKey: request) }) else { return }
        waiter.continuation.resume(with: result)
    }
}
