import LMDB

/// One set of the databases that hold the replicated mailbox state (see ``MailboxStore`` for
/// the layout).
///
/// A store has two sets: the live one, and a staging one that a snapshot streamed from another
/// server is written into. Installing the snapshot flips which set is live (one key in
/// `mbx.meta`, in the installing transaction), so that a reader, which resolves the live set
/// inside its own transaction, sees either the old state or the new one, never a mix.
struct StateTables: Sendable {
    let clients: Database
    let boxes: Database
    let messages: Database
    let index: Database
    let delivered: Database
    let servers: Database
    let senders: Database
    let totals: Database
    let expired: Database
    let expiries: Database

    /// Opens (creating) the set whose database names start with `prefix`.
    init(prefix: String, _ txn: borrowing WriteTransaction) throws(LMDBError) {
        clients = try txn.openDatabase(prefix + "clients", create: true)
        boxes = try txn.openDatabase(prefix + "boxes", create: true)
        messages = try txn.openDatabase(prefix + "messages", create: true)
        index = try txn.openDatabase(prefix + "index", create: true)
        delivered = try txn.openDatabase(prefix + "delivered", create: true)
        servers = try txn.openDatabase(prefix + "servers", create: true)
        senders = try txn.openDatabase(prefix + "senders", create: true)
        totals = try txn.openDatabase(prefix + "totals", create: true)
        expired = try txn.openDatabase(prefix + "expired", create: true)
        expiries = try txn.openDatabase(prefix + "expiries", create: true)
    }

    /// The tables a snapshot carries, in order (version 1 had the first five, version 2 six,
    /// version 3 eight). A streamed snapshot names a table by its position here.
    static let count = 10
    var all: [Database] { [clients, boxes, messages, index, delivered, servers, senders, totals, expired, expiries] }
}
