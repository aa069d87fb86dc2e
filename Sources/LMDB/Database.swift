import CLMDB

/// A handle to a named database (a B-tree) inside an ``Environment``.
///
/// Obtained from ``Environment/openDatabase(_:create:)``; valid for the environment's lifetime and
/// usable from any thread or transaction.
public struct Database: Sendable, Hashable {
    /// The database's name, `nil` for the environment's unnamed main database.
    public let name: String?
    let dbi: MDB_dbi
}
