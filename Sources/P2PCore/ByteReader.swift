/// Why bytes could not be decoded.
public enum DecodingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The input ended before `field` was complete.
    case truncated(field: String)
    /// `field` holds an impossible value.
    case malformed(field: String, reason: String)
    /// A length field exceeds the limit for `field`.
    case tooLarge(field: String, length: Int, limit: Int)
    /// Bytes were left over after a complete value.
    case trailingBytes(count: Int)

    public var description: String {
        switch self {
        case .truncated(let field): "truncated input while reading \(field)"
        case .malformed(let field, let reason): "malformed \(field): \(reason)"
        case .tooLarge(let field, let length, let limit): "\(field) of \(length) bytes exceeds the limit of \(limit)"
        case .trailingBytes(let count): "\(count) unexpected trailing bytes"
        }
    }
}

/// Reads fields written by ``ByteWriter``. Never traps: short or garbage input is a ``DecodingError``.
public struct ByteReader: Sendable {
    private let bytes: [UInt8]
    private var offset: Int
    /// The largest length-prefixed field accepted.
    public let maximumFieldLength: Int

    public init(_ bytes: [UInt8], maximumFieldLength: Int = 64 << 20) {
        self.bytes = bytes
        self.offset = 0
        self.maximumFieldLength = maximumFieldLength
    }

    /// Bytes not read yet.
    public var remaining: Int { bytes.count - offset }

    public mutating func readUInt8(_ field: String) throws(DecodingError) -> UInt8 {
        guard remaining >= 1 else { throw .truncated(field: field) }
        defer { offset += 1 }
        return bytes[offset]
    }

    public mutating func readBool(_ field: String) throws(DecodingError) -> Bool {
        switch try readUInt8(field) {
        case 0: return false
        case 1: return true
        case let other: throw .malformed(field: field, reason: "boolean byte \(other)")
        }
    }

    public mutating func readUInt16(_ field: String) throws(DecodingError) -> UInt16 { try readInteger(field) }
    public mutating func readUInt32(_ field: String) throws(DecodingError) -> UInt32 { try readInteger(field) }
    public mutating func readUInt64(_ field: String) throws(DecodingError) -> UInt64 { try readInteger(field) }

    public mutating func readNodeID(_ field: String) throws(DecodingError) -> NodeID {
        guard remaining >= 16 else { throw .truncated(field: field) }
        defer { offset += 16 }
        guard let id = NodeID(bytes: bytes[offset..<offset + 16]) else {
            throw .malformed(field: field, reason: "not 16 bytes")
        }
        return id
    }

    public mutating func readLengthPrefixed(_ field: String) throws(DecodingError) -> [UInt8] {
        let length = Int(try readUInt32(field))
        guard length <= maximumFieldLength else {
            throw .tooLarge(field: field, length: length, limit: maximumFieldLength)
        }
        guard remaining >= length else { throw .truncated(field: field) }
        defer { offset += length }
        return Array(bytes[offset..<offset + length])
    }

    public mutating func readString(_ field: String) throws(DecodingError) -> String {
        let raw = try readLengthPrefixed(field)
        guard let text = String(validating: raw, as: UTF8.self) else {
            throw .malformed(field: field, reason: "invalid UTF-8")
        }
        return text
    }

    public mutating func readOptional<T>(
        _ field: String, _ readValue: (inout ByteReader) throws(DecodingError) -> T
    ) throws(DecodingError) -> T? {
        try readBool(field) ? try readValue(&self) : nil
    }

    /// An array of at most `limit` elements.
    public mutating func readArray<T>(
        _ field: String, limit: Int = 1 << 20, _ readElement: (inout ByteReader) throws(DecodingError) -> T
    ) throws(DecodingError) -> [T] {
        let count = Int(try readUInt32(field))
        guard count <= limit else { throw .tooLarge(field: field, length: count, limit: limit) }
        var result: [T] = []
        result.reserveCapacity(min(count, remaining))
        for _ in 0..<count { result.append(try readElement(&self)) }
        return result
    }

    /// Throws unless every byte was consumed.
    public func expectEnd() throws(DecodingError) {
        if remaining != 0 { throw .trailingBytes(count: remaining) }
    }

    private mutating func readInteger<T: FixedWidthInteger>(_ field: String) throws(DecodingError) -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { throw .truncated(field: field) }
        var value: T = 0
        for i in offset..<offset + size { value = (value << 8) | T(bytes[i]) }
        offset += size
        return value
    }
}
