import P2PCore

extension RaftLogStore.Batch {
    /// The batch as a journal record: what a replica whose log is made durable by a journal
    /// appends (see `ReplicatedMailboxes`), redone with ``RaftLogStore/write(_:in:)`` after a
    /// crash. A batch with a snapshot has no record: it is committed to LMDB durably instead.
    public func journalRecord() -> [UInt8] {
        var writer = ByteWriter(capacity: entries.reduce(64) { $0 + $1.bytes.count + 24 })
        writer.write(optional: truncateFrom) { $0.write($1) }
        writer.write(optional: hardState) { $0.write(lengthPrefixed: $1) }
        writer.write(array: entries) { writer, entry in
            writer.write(entry.index)
            writer.write(entry.term)
            writer.write(lengthPrefixed: entry.bytes)
        }
        return writer.bytes
    }

    /// Decodes ``journalRecord()``; damaged bytes are a `DecodingError`.
    public init(journalRecord bytes: [UInt8]) throws(DecodingError) {
        var reader = ByteReader(bytes, maximumFieldLength: 1 << 30)
        let truncateFrom = try reader.readOptional("journal.truncateFrom") { (reader: inout ByteReader) throws(DecodingError) in
            try reader.readUInt64("journal.truncateFrom")
        }
        let hardState = try reader.readOptional("journal.hardState") { (reader: inout ByteReader) throws(DecodingError) in
            try reader.readLengthPrefixed("journal.hardState")
        }
        let entries = try reader.readArray("journal.entries") { (reader: inout ByteReader) throws(DecodingError) in
            RaftLogStore.StoredEntry(
                index: try reader.readUInt64("journal.entry.index"), term: try reader.readUInt64("journal.entry.term"),
                bytes: try reader.readLengthPrefixed("journal.entry.bytes")
            )
        }
        try reader.expectEnd()
        self.init(truncateFrom: truncateFrom, entries: entries, hardState: hardState)
    }
}
