/// Integer ↔ key encoding: big-endian, so that LMDB's byte-wise key order is numeric order.
extension FixedWidthInteger where Self: UnsignedInteger {
    /// The value's big-endian bytes, suitable as an LMDB key that sorts numerically.
    @inlinable
    public var bigEndianBytes: [UInt8] {
        withUnsafeBytes(of: self.bigEndian) { Array($0) }
    }

    /// Decodes a value from exactly `MemoryLayout<Self>.size` big-endian bytes; `nil` otherwise.
    /// Inlinable: unspecialised, the byte loop went through the generic integer witnesses and
    /// was a tenth of a server's CPU at high load.
    @inlinable
    public init?(bigEndianBytes bytes: some Collection<UInt8>) {
        guard bytes.count == MemoryLayout<Self>.size else { return nil }
        var value: Self = 0
        for byte in bytes {
            value = (value << 8) | Self(byte)
        }
        self = value
    }
}
