import Dispatch

/// A serial queue for blocking storage work (LMDB write transactions and their syncs), so that
/// it blocks neither an actor nor a thread of Swift's cooperative pool while the disk works.
/// Each job runs whole on one thread, as an LMDB write transaction must.
final class StorageQueue: Sendable {
    fileprivate let queue: DispatchQueue

    init(label: String) {
        queue = DispatchQueue(label: label, qos: .userInitiated)
    }

    /// Runs `job` on the queue and returns its result.
    func run<Result: Sendable>(_ job: @escaping @Sendable () throws -> Result) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Swift.Result { try job() }) }
        }
    }
}

extension StorageQueue {
    /// Queues `job` without waiting for it: jobs queued from one thread run in the order queued.
    func enqueue(_ job: @escaping @Sendable () -> Void) {
        queue.async(execute: job)
    }
}
