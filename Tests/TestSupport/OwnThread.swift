import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Runs CPU-heavy synchronous `work` on a thread of its own (8 MiB stack) at a low scheduling
/// priority. On the shared two-thread concurrency pool it would starve the network tests running
/// beside it; at the normal priority, several such threads would still take most of the two
/// cores from the event loops and the pool, and those tests would miss their deadlines (a tunnel
/// declared dead after 2 s of silence, an observe retransmitted after 5 s). Niced, the work
/// takes what the rest leaves.
public func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            lowerThisThreadsPriority()
            continuation.resume(with: Result { try work() })
        }
        thread.stackSize = 8 << 20
        thread.start()
    }
}

/// Nice 15 for the calling thread only: on Linux the nice value belongs to a thread, and
/// `setpriority` on process 0 sets the caller's.
private func lowerThisThreadsPriority() {
    #if canImport(Glibc)
    _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 15)
    #endif
}
