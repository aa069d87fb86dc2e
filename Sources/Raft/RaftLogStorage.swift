/// Read access to the entries a driver has persisted, so that a ``RaftNode`` need not keep every
/// entry's payload in memory (etcd-io/raft's `Storage`).
///
/// The node only asks for entries it knows are durable: ones handed out by an earlier
/// ``RaftNode/ready()`` (which the driver persisted before the next input, per ``RaftReady``) or
/// restored at start-up. Reads must be deterministic for a given persisted state.
public protocol RaftLogStorage: Sendable {
    /// The persisted entries in `from...through`, in order, stopping before `maxBytes` of
    /// ``LogEntry/size`` would be exceeded (but at least one entry). Fewer than asked (or none)
    /// when the storage cannot read them; the node then retries later, it never skips an entry.
    func entries(from: LogIndex, through: LogIndex, maxBytes: Int) -> [LogEntry]
}
