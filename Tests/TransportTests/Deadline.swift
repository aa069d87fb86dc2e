/// Runs test steps against a deadline (a bound on a wait, never a way to synchronise).
enum Deadline {
    struct Exceeded: Error, CustomStringConvertible {
        let limit: Duration
        var description: String { "deadline of \(limit) exceeded" }
    }

    /// The result of `body`, or ``Exceeded`` if it takes longer than `limit`.
    static func run<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: limit)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let result = first else { throw Exceeded(limit: limit) }
            return result
        }
    }
}
