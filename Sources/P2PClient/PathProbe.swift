import Synchronization

/// Round-trip time and loss of one direct path, from its keepalive pings: each ping carries a
/// sequence number the peer echoes (``PathProbe/Ping``). A ping not echoed within
/// ``lossAfter`` counts as lost. Pure: times come in as inputs.
struct ProbeWindow: Sendable {
    /// Pings whose fate is remembered (the newest).
    static let window = 20
    /// How long an echo may take before its ping counts as lost.
    static let lossAfter: Duration = .seconds(2)

    private var nextSequence: UInt32 = 1
    private var outstanding: [UInt32: ContinuousClock.Instant] = [:]
    /// `true` for an echoed ping, `false` for a lost one, oldest first.
    private var fates: [Bool] = []
    /// Smoothed round-trip time (as TCP's SRTT: 7/8 old, 1/8 new).
    private(set) var smoothed: Duration?

    /// A ping goes out at `now`; returns its sequence number.
    mutating func sent(at now: ContinuousClock.Instant) -> UInt32 {
        expire(now: now)
        let sequence = nextSequence
        nextSequence &+= 1
        outstanding[sequence] = now
        return sequence
    }

    /// The echo of `sequence` arrived at `now` (an unknown or expired one is ignored).
    mutating func echoed(_ sequence: UInt32, at now: ContinuousClock.Instant) {
        expire(now: now)
        guard let sentAt = outstanding.removeValue(forKey: sequence) else { return }
        let sample = now - sentAt
        smoothed = smoothed.map { ($0 * 7 + sample) / 8 } ?? sample
        record(true)
    }

    /// The share of the remembered pings that went unanswered (0…1), `nil` before any is known.
    mutating func loss(at now: ContinuousClock.Instant) -> Double? {
        expire(now: now)
        guard !fates.isEmpty else { return nil }
        return Double(fates.filter { !$0 }.count) / Double(fates.count)
    }

    private mutating func expire(now: ContinuousClock.Instant) {
        for (sequence, sentAt) in outstanding where now - sentAt > Self.lossAfter {
            outstanding[sequence] = nil
            record(false)
        }
    }

    private mutating func record(_ fate: Bool) {
        fates.append(fate)
        if fates.count > Self.window { fates.removeFirst(fates.count - Self.window) }
    }
}

/// The probe of one live direct path, shared by its keepalive task and the snapshot queries.
final class PathProbe: Sendable {
    /// The payload of a keepalive ping (``Transport/FrameType/directPing``): a kind byte and a
    /// sequence number. A ping asks for an echo; an older peer's empty ping is only a keepalive.
    enum Ping {
        static let request: UInt8 = 1
        static let echo: UInt8 = 2

        static func encode(_ kind: UInt8, _ sequence: UInt32) -> [UInt8] {
            [kind, UInt8(sequence >> 24), UInt8(truncatingIfNeeded: sequence >> 16), UInt8(truncatingIfNeeded: sequence >> 8), UInt8(truncatingIfNeeded: sequence)]
        }

        static func decode(_ bytes: [UInt8]) -> (kind: UInt8, sequence: UInt32)? {
            guard bytes.count == 5 else { return nil }
            let sequence = bytes[1...4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            return (bytes[0], sequence)
        }
    }

    private let state = Mutex(ProbeWindow())

    func sent() -> UInt32 { state.withLock { $0.sent(at: .now) } }
    func echoed(_ sequence: UInt32) { state.withLock { $0.echoed(sequence, at: .now) } }
    var rtt: Duration? { state.withLock { $0.smoothed } }
    var loss: Double? { state.withLock { $0.loss(at: .now) } }
}
