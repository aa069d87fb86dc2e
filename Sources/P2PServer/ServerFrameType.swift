import ClientProtocol
import Transport

/// Application frame types on links between servers.
package enum ServerFrameType {
    /// First frame on a link a server dialled to another server (tells it from a client).
    package static let serverHello: UInt8 = ClientProtocol.serverHelloFrame
    /// A Raft message between servers.
    package static let raft: UInt8 = Link.firstApplicationType + 1
    /// A mailbox command a follower asks the leader to propose (``ForwardedCommand``).
    package static let forward: UInt8 = Link.firstApplicationType + 2
    /// The leader's answer to a forwarded command (``ForwardedReply``).
    package static let forwardReply: UInt8 = Link.firstApplicationType + 3
    /// An admin request one server asks another (a status, or a leader-only change): request
    /// number, then the JSON ``AdminRequest``.
    package static let adminRequest: UInt8 = Link.firstApplicationType + 4
    /// The answer: request number, then the JSON ``AdminResponse``.
    package static let adminReply: UInt8 = Link.firstApplicationType + 5
    /// A follower asks the leader for its commit index (a read barrier): request number.
    package static let readIndex: UInt8 = Link.firstApplicationType + 6
    /// The answer: request number, then 1 and the commit index if the sender leads, else 0.
    package static let readIndexReply: UInt8 = Link.firstApplicationType + 7
    /// An ``Introduction`` for a client attached to the receiving server: the client's id, then the introduction.
    package static let introduce: UInt8 = Link.firstApplicationType + 8
    /// A frame for a server this one has no link to, to pass on (``RelayedFrame``, destination).
    package static let relay: UInt8 = Link.firstApplicationType + 9
    /// A frame passed on by a relay (``RelayedFrame``, origin).
    package static let relayed: UInt8 = Link.firstApplicationType + 10
    /// A server asks a member to introduce it to a server it cannot dial (``ServerConnectRequest``).
    package static let connectServer: UInt8 = Link.firstApplicationType + 11
    /// A member introduces two servers to each other for hole punching (an ``Introduction``).
    package static let introduceServer: UInt8 = Link.firstApplicationType + 14

    /// Every type of frame servers send each other (and only they may send).
    package static let all: Set<UInt8> = [
        serverHello, raft, forward, forwardReply, adminRequest, adminReply, readIndex, readIndexReply, introduce,
        relay, relayed, connectServer, introduceServer,
    ]

    /// Frame types a relay may carry: everything but the link's own bookkeeping.
    package static func isRelayable(_ type: UInt8) -> Bool {
        type != relay && type != relayed && type != connectServer && type != introduceServer
    }
}
