/// A read-only transaction: a consistent snapshot of the environment. Exists only inside
/// ``Environment/read(_:)``; it cannot be copied or stored. Its operations are those of
/// ``TransactionReading``.
public struct ReadTransaction: ~Copyable, TransactionReading {
    public let reader: TransactionReader

    init(txn: OpaquePointer) {
        reader = TransactionReader(txn: txn)
    }
}
