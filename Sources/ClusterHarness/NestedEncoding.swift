import P2PCore

/// Encodings that nest a container in itself many times over: what a hostile peer sends to
/// make a recursive decoder overflow its stack.
public enum NestedEncoding {
    /// `oneLevel` is the encoding of a container holding just `inner`, whose item is
    /// length-prefixed (a `UInt32`) right before `inner` at its end; returns the same container
    /// nested `levels` times around `inner`, each level's item being the next level.
    public static func lengthPrefixed(oneLevel: [UInt8], inner: [UInt8], levels: Int) -> [UInt8] {
        let header = Array(oneLevel.prefix(oneLevel.count - inner.count - 4))
        var writer = ByteWriter(capacity: levels * (header.count + 4) + inner.count)
        for level in 0..<levels {
            for byte in header { writer.write(byte) }
            writer.write(UInt32((levels - level - 1) * (header.count + 4) + inner.count))
        }
        for byte in inner { writer.write(byte) }
        return writer.bytes
    }

    /// The same for a container whose item follows its header with no length of its own.
    public static func unprefixed(oneLevel: [UInt8], inner: [UInt8], levels: Int) -> [UInt8] {
        let header = oneLevel.prefix(oneLevel.count - inner.count)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(levels * header.count + inner.count)
        for _ in 0..<levels { bytes += header }
        return bytes + inner
    }
}
