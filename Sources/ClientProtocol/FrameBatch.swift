import P2PCore

/// The bounds and layout shared by the batch frames (``ClientRequest/batch(_:)`` and
/// ``ServerPush/batch(_:)``): many requests or pushes in one frame, so that a burst costs one
/// seal, one decode and one hop instead of one per item.
///
/// Each item is its own complete encoding, length-prefixed. A batch holds 1 to
/// ``maximumCount`` items of at most ``maximumBytes`` together; a decoder refuses anything else.
/// Either side sends batches only to a peer that announced it takes them (``LinkFeatures``).
public enum FrameBatch {
    /// Most items in one batch.
    public static let maximumCount = 256
    /// Most bytes of encoded items in one batch. An item larger than this travels in a frame of
    /// its own.
    public static let maximumBytes = 1 << 20

    /// Writes `items` (each already encoded) as a batch: a `UInt16` count, then each item
    /// length-prefixed. The caller keeps within the bounds (``pack(_:)``).
    static func write(_ items: [[UInt8]], into writer: inout ByteWriter) {
        writer.write(UInt16(truncatingIfNeeded: items.count))
        for item in items { writer.write(lengthPrefixed: item) }
    }

    /// A whole batch frame: the codec version (1), the batch `tag` of its message type, then the
    /// items as ``write(_:into:)`` lays them out.
    static func frame(tag: UInt8, _ items: [[UInt8]]) -> [UInt8] {
        var writer = ByteWriter()
        writer.write(UInt8(1))
        writer.write(tag)
        write(items, into: &writer)
        return writer.bytes
    }

    /// Reads a batch's encoded items, enforcing both bounds.
    static func read(from reader: inout ByteReader, field: String) throws(DecodingError) -> [[UInt8]] {
        let count = Int(try reader.readUInt16(field))
        guard count >= 1 else { throw .malformed(field: field, reason: "an empty batch") }
        guard count <= maximumCount else { throw .tooLarge(field: field, length: count, limit: maximumCount) }
        var items: [[UInt8]] = []
        items.reserveCapacity(count)
        var bytes = 0
        for _ in 0..<count {
            let item = try reader.readLengthPrefixed(field)
            bytes += item.count
            guard bytes <= maximumBytes else { throw .tooLarge(field: field, length: bytes, limit: maximumBytes) }
            items.append(item)
        }
        return items
    }

    /// Reads a batch (``read(from:field:)``) and decodes each item with `decode`, refusing any
    /// item that may not travel in a batch (a nested batch, say).
    ///
    /// An item tagged `tag` (the batch's own) is refused before it is decoded: decoding a batch
    /// in a batch in a batch… would recurse once per level, and a frame holds enough levels to
    /// overflow the stack.
    static func decode<Item>(
        from reader: inout ByteReader, field: String, tag: UInt8, _ decode: ([UInt8]) throws(DecodingError) -> Item,
        isBatchable: (Item) -> Bool
    ) throws(DecodingError) -> [Item] {
        var items: [Item] = []
        for encoded in try read(from: &reader, field: field) {
            // An item's encoding starts with its codec version, then its tag (``frame(tag:_:)``).
            if encoded.dropFirst().first == tag { throw .malformed(field: field, reason: "a batch inside a batch") }
            let item = try decode(encoded)
            guard isBatchable(item) else { throw .malformed(field: field, reason: "an item that cannot be batched") }
            items.append(item)
        }
        return items
    }

    /// Splits encoded items, in order, into groups that fit one batch each. A group of one goes
    /// in a frame of its own (as do items over ``maximumBytes``).
    public static func pack(_ items: [[UInt8]]) -> [[[UInt8]]] {
        var groups: [[[UInt8]]] = []
        var current: [[UInt8]] = []
        var bytes = 0
        for item in items {
            if !current.isEmpty, current.count == maximumCount || bytes + item.count > maximumBytes {
                groups.append(current)
                current = []
                bytes = 0
            }
            current.append(item)
            bytes += item.count
        }
        if !current.isEmpty { groups.append(current) }
        return groups
    }
}

/// What one side of a client link supports beyond the base protocol, announced in a
/// ``ClientProtocol/featuresFrame``: the server sends its own after its welcome, and a client
/// that understands it answers with its own. An older peer never sends one, and ignores one it
/// receives (it skips frame types it does not know), so each side uses a feature only once the
/// other announced it.
public struct LinkFeatures: OptionSet, Equatable, Sendable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Takes ``ClientRequest/batch(_:)`` (server) or ``ServerPush/batch(_:)`` (client) frames.
    public static let batches = LinkFeatures(rawValue: 1 << 0)

    /// What this build supports.
    public static let supported: LinkFeatures = [.batches]

    public func encoded() -> [UInt8] {
        var writer = ByteWriter()
        writer.write(UInt8(1))
        writer.write(rawValue)
        return writer.bytes
    }

    /// Decodes an announcement; bits this build does not know are dropped, and bytes after the
    /// ones it knows are ignored (a later version may append).
    public init(decoding bytes: [UInt8]) throws(DecodingError) {
        var reader = ByteReader(bytes)
        let version = try reader.readUInt8("features.version")
        guard version >= 1 else { throw .malformed(field: "features.version", reason: "unsupported version \(version)") }
        self = LinkFeatures(rawValue: try reader.readUInt64("features.bits")).intersection(.supported)
    }
}
