import Synchronization

/// The payload bytes queued for sending on many links together (all of a listener's links to
/// clients, say): what a server holds in memory for peers that read slowly, which a per-link
/// bound alone lets grow with the number of links.
public final class QueuedBytesGauge: Sendable {
    private let bytes = Atomic<Int>(0)

    public init() {}

    /// Bytes queued now on the links that count here.
    public var value: Int { bytes.load(ordering: .relaxed) }

    func add(_ count: Int) { bytes.wrappingAdd(count, ordering: .relaxed) }

    func subtract(_ count: Int) { bytes.wrappingSubtract(count, ordering: .relaxed) }
}
