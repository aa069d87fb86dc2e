import Synchronization

/// Requests waiting for their reply, by request number, each with its own timeout.
///
/// A reply for a request nobody waits for any more (it timed out) is ignored.
public final class PendingReplies<Value: Sendable>: Sendable {
    /// The request got no reply in time.
    public struct TimedOut: Error, Sendable {}

    private struct State {
        var nextRequest: UInt64 = 1
        var waiting: [UInt64: CheckedContinuation<Value, any Error>] = [:]
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

    /// Registers `request`, runs `send` (which transmits it), and waits for ``resolve(_:with:)``.
    /// Throws ``TimedOut`` after `timeout`, `send`'s error if it fails, or what ``failAll(_:)`` passes.
    public func wait(for request: UInt64, timeout: Duration, send: () throws -> Void) async throws -> Value {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Value, any Error>) in
            state.withLock { $0.waiting[request] = continuation }
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

    /// Hands `value` to the waiter of `request`, if it still waits.
    public func resolve(_ request: UInt64, with value: Value) {
        finish(request, .success(value))
    }

    /// Hands `value` to every waiter.
    public func resolveAll(with value: Value) {
        let all = state.withLock { state in
            defer { state.waiting.removeAll() }
            return Array(state.waiting.values)
        }
        for continuation in all { continuation.resume(returning: value) }
    }

    /// Fails every waiter (e.g. the link they were sent on closed).
    public func failAll(_ error: any Error) {
        let all = state.withLock { state in
            defer { state.waiting.removeAll() }
            return Array(state.waiting.values)
        }
        for continuation in all { continuation.resume(throwing: error) }
    }

    private func finish(_ request: UInt64, _ result: Result<Value, any Error>) {
        guard let continuation = state.withLock({ $0.waiting.removeValue(forKey: request) }) else { return }
        continuation.resume(with: result)
    }
}
