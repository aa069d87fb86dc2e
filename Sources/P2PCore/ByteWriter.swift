/// Appends fields in p2pcore's binary encoding: big-endian integers, length-prefixed byte strings.
///
/// The pure counterpart of the wire codec, for values stored in LMDB or carried inside frames.
public struct ByteWriter: Sendable {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public mutating func write(_ value: UInt8) { bytes.append(value) }
    public mutating func write(_ value: Bool) { bytes.append(value ? 1 : 0) }
    public mutating func write(_ value: UInt16) { append(value) }
    public mutating func write(_ value: UInt32) { append(value) }
    public mutating func write(_ value: UInt64) { append(value) }
    public mutating func write(_ value: NodeID) { bytes.append(contentsOf: value.bytes) }

    /// A byte string prefixed with its length as a `UInt32`.
    public mutating func write(lengthPrefixed value: some Collection<UInt8>) {
        append(UInt32(truncatingIfNeeded: value.count))
        bytes.append(contentsOf: value)
    }

    /// A UTF-8 string prefixed with its byte length.
    public mutating func write(_ value: String) { write(lengthPrefixed: Array(value.utf8)) }

    /// An optional value: a presence byte, then the value.
    public mutating func write<T>(optional value: T?, _ writeValue: (inout ByteWriter, T) -> Void) {
        guard let value else { return write(false) }
        write(true)
        writeValue(&self, value)
    }

    /// An array: its count as a `UInt32`, then each element.
    public mutating func write<T>(array: [T], _ writeElement: (inout ByteWriter, T) -> Void) {
        append(UInt32(truncatingIfNeeded: array.count))
        for element in array { writeElement(&self, element) }
    }

    private mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }
}
