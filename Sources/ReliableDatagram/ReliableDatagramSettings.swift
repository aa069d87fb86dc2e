/// How a `ReliableDatagramSession` behaves; the defaults are those of `ikcp_create`.
///
/// Both ends must agree on `conversation`. The other settings may differ between the ends, except
/// that `mtu` must not exceed what the path (and the peer's receive buffer) carries.
public struct ReliableDatagramSettings: Equatable, Sendable {
    /// The conversation id carried in every segment; datagrams with another one are rejected.
    public var conversation: UInt32
    /// Largest datagram this end emits, headers included (`ikcp_setmtu`, 50...65535).
    public var mtu: Int = 1400
    /// Most segments in flight, before congestion control (`snd_wnd`).
    public var sendWindow: Int = 32
    /// Segments this end buffers for reassembly and delivery (`rcv_wnd`, 128...65535: a message
    /// has up to 127 fragments and the window travels in 16 bits).
    public var receiveWindow: Int = 128
    /// Milliseconds between flushes driven by `update(current:)` (10...5000).
    public var interval: UInt32 = 100
    /// Retransmission eagerness (`nodelay`).
    public var noDelay: NoDelayMode = .off
    /// Retransmit a segment once this many later segments were acknowledged before it (fast
    /// retransmit, `fastresend`); 0 turns it off.
    public var fastResend: Int = 0
    /// A segment is fast-retransmitted only while it was sent at most this often (`fastlimit`);
    /// 0 or less means no limit.
    public var fastResendLimit: Int = 5
    /// Whether the congestion window (`cwnd`, `ssthresh`) limits sending (`nocwnd` inverted).
    public var congestionControl: Bool = true
    /// A segment sent this many times without an acknowledgement marks the link dead
    /// (`dead_link`).
    public var deadLink: Int = 20

    /// KCP's defaults ("normal mode").
    public init(conversation: UInt32) {
        self.conversation = conversation
    }

    /// KCP's "fast mode", `ikcp_nodelay(kcp, 1, 10, 2, 1)`: no-delay, 10 ms interval, fast
    /// retransmit after 2 skips, no congestion window.
    public static func fast(conversation: UInt32) -> ReliableDatagramSettings {
        var settings = ReliableDatagramSettings(conversation: conversation)
        settings.noDelay = .on
        settings.interval = 10
        settings.fastResend = 2
        settings.congestionControl = false
        return settings
    }

    /// Payload bytes per segment (`mss`).
    public var maximumSegmentSize: Int { mtu - SegmentHeader.size }

    /// The largest message `send(message:)` accepts: 127 full fragments.
    public var maximumMessageSize: Int { (Self.fragmentLimit - 1) * maximumSegmentSize }

    /// A message is split into fewer than this many fragments (`IKCP_WND_RCV`).
    static let fragmentLimit = 128

    func validate() throws(ReliableDatagramError) {
        guard (50...65535).contains(mtu) else { throw .invalidSettings("mtu \(mtu) is outside 50...65535") }
        guard (1...65535).contains(sendWindow) else {
            throw .invalidSettings("sendWindow \(sendWindow) is outside 1...65535")
        }
        guard (Self.fragmentLimit...65535).contains(receiveWindow) else {
            throw .invalidSettings("receiveWindow \(receiveWindow) is outside \(Self.fragmentLimit)...65535")
        }
        guard (10...5000).contains(interval) else { throw .invalidSettings("interval \(interval) is outside 10...5000") }
        guard fastResend >= 0 else { throw .invalidSettings("fastResend \(fastResend) is negative") }
        guard deadLink >= 1 else { throw .invalidSettings("deadLink \(deadLink) is less than 1") }
    }
}
