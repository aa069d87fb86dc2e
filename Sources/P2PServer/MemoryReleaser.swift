import Foundation
import LMDB
import Logging
import Synchronization

/// Keeps the server's resident size near what it uses now rather than the most it ever read or
/// allocated: while the file-backed resident pages pass a budget, unmaps the LMDB pages reads
/// touched (``Environment/releaseMappedPages()``); every so often, trims the malloc heaps
/// (``HeapTrim``).
///
/// It runs on a thread of its own: during a drain both cores are busy and the cooperative pool's
/// queue is long, while a draining server maps hundreds of MiB of database pages a second.
final class MemoryReleaser: Sendable {
    /// How often the resident figures are read (a read of `/proc/self/statm`).
    static let checkInterval: Duration = .milliseconds(100)

    private let environment: Environment
    private let mappedPagesBudget: Int?
    private let heapTrimInterval: Duration?
    private let logger: Logger
    private let stopped = Atomic<Bool>(false)

    init(environment: Environment, mappedPagesBudget: Int?, heapTrimInterval: Duration?, logger: Logger) {
        self.environment = environment
        self.mappedPagesBudget = mappedPagesBudget
        self.heapTrimInterval = heapTrimInterval
        self.logger = logger
    }

    /// Starts the thread (nothing when there is nothing to do).
    func start() {
        guard mappedPagesBudget != nil || heapTrimInterval != nil else { return }
        let thread = Thread { [self] in run() }
        thread.name = "p2pcore-memory"
        thread.start()
    }

    /// Ends the thread within one ``checkInterval``.
    func stop() {
        stopped.store(true, ordering: .relaxed)
    }

    private func run() {
        let clock = ContinuousClock()
        var lastTrim = clock.now
        while !stopped.load(ordering: .relaxed) {
            let (seconds, attoseconds) = Self.checkInterval.components
            Thread.sleep(forTimeInterval: Double(seconds) + Double(attoseconds) / 1e18)
            if let budget = mappedPagesBudget, let memory = ResidentMemory.current(), memory.fileBackedBytes > budget {
                do {
                    try environment.releaseMappedPages()
                } catch {
                    logger.debug("could not release mapped pages: \(error)")
                }
            }
            if let heapTrimInterval, clock.now - lastTrim >= heapTrimInterval {
                lastTrim = clock.now
                HeapTrim.trim()
            }
        }
    }
}
