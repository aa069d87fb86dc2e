import Foundation

/// Runs CPU-heavy synchronous `work` on a thread of its own (8 MiB stack): on the shared
/// two-thread concurrency pool it would starve network tests running beside it.
public func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try work() }) }
        thread.stackSize = 8 << 20
        thread.start()
    }
}
