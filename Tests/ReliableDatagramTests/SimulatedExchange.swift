import ReliableDatagram

/// Two sessions joined by two lossy links, driven in fixed clock steps.
struct SimulatedExchange {
    var left: ReliableDatagramSession
    var right: ReliableDatagramSession
    var toRight: LossyLink
    var toLeft: LossyLink
    var now: UInt32 = 0
    var step: UInt32 = 10

    /// Delivers due datagrams, updates both sessions, puts their output on the links and
    /// returns the messages each side received (none when not `receiving`: the application
    /// leaves them in the sessions).
    @discardableResult
    mutating func advance(receiving: Bool = true) throws -> (left: [[UInt8]], right: [[UInt8]]) {
        now &+= step
        for datagram in toLeft.deliver(now: now) { try left.input(datagram: datagram) }
        for datagram in toRight.deliver(now: now) { try right.input(datagram: datagram) }
        left.update(current: now)
        right.update(current: now)
        for datagram in left.drainOutbox() { toRight.send(datagram, now: now) }
        for datagram in right.drainOutbox() { toLeft.send(datagram, now: now) }
        guard receiving else { return ([], []) }
        return (left.drainMessages(), right.drainMessages())
    }
}
