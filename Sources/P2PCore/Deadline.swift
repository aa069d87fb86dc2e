/// A wait took longer than its deadline.
public struct DeadlineExceeded: Error, CustomStringConvertible, Equatable {
    public let limit: Duration
    public let what: String

    public init(limit: Duration, what: String = "operation") {
        self.limit = limit
        self.what = what
    }

    public var description: String { "\(what): deadline of \(limit) exceeded" }
}

/// The result of `operation`, or ``DeadlineExceeded`` once `limit` passed (the operation is
/// then cancelled, and this returns once it ended: it must respond to cancellation). A bound on
/// a wait, never a way to synchronise.
public func withDeadline<T: Sendable>(
    _ limit: Duration, _ what: String = "operation", _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: limit)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let result = first else { throw DeadlineExceeded(limit: limit, what: what) }
        return result
    }
}
