extension UInt32 {
    /// `later - earlier` on KCP's wrapping 32-bit clock and sequence space (`_itimediff`):
    /// positive when `self` is after `earlier`, as long as both lie within 2^31 of each other.
    func wrappingDistance(since earlier: UInt32) -> Int {
        Int(Int32(bitPattern: self &- earlier))
    }
}
