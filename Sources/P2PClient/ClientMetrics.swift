import CoreMetrics

/// What a client reports through swift-metrics (``ClientConfiguration/metricsFactory``, by
/// default the process's `MetricsSystem`): made once per client, so that sending creates no
/// metric objects or labels.
///
/// - `p2pcore_client_send_seconds{path="direct"|"relay"}` (timer): from `send` to the
///   recipient's acknowledgement, by the path that delivered it.
/// - `p2pcore_client_outbox_messages` (gauge): messages whose fate is not final yet.
struct ClientMetrics: Sendable {
    let directSend: CoreMetrics.Timer
    let relaySend: CoreMetrics.Timer
    let outboxDepth: Gauge

    init(factory: (any MetricsFactory)?) {
        let factory = factory ?? MetricsSystem.factory
        directSend = CoreMetrics.Timer(label: "p2pcore_client_send_seconds", dimensions: [("path", "direct")], factory: factory)
        relaySend = CoreMetrics.Timer(label: "p2pcore_client_send_seconds", dimensions: [("path", "relay")], factory: factory)
        outboxDepth = Gauge(label: "p2pcore_client_outbox_messages", factory: factory)
    }

    /// The outbox holds `count` messages now.
    func outbox(_ count: Int) {
        outboxDepth.record(count)
    }

    /// A send was acknowledged `milliseconds` after it started.
    func sent(after milliseconds: UInt64, direct: Bool) {
        (direct ? directSend : relaySend).recordNanoseconds(Int64(clamping: milliseconds) &* 1_000_000)
    }
}
