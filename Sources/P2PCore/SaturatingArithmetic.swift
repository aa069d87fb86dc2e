extension FixedWidthInteger {
    /// `self + other`, or the type's bound where that would overflow: for counters and sums of
    /// values that come from disk or from peers, where a trap would be a crash anyone who can
    /// plant such a value could cause.
    @inlinable
    public func saturatingAdding(_ other: Self) -> Self {
        let (sum, overflow) = addingReportingOverflow(other)
        guard overflow else { return sum }
        return other > 0 ? .max : .min
    }
}
