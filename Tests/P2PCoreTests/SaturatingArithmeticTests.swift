import P2PCore
import Testing

@Suite struct SaturatingArithmeticTests {
    @Test func addsWithinTheRangeAndStopsAtItsBounds() {
        #expect(UInt64(40).saturatingAdding(2) == 42)
        #expect(UInt64.max.saturatingAdding(1) == .max)
        #expect((UInt64.max - 1).saturatingAdding(.max) == .max)
        #expect(Int.max.saturatingAdding(1) == .max)
        #expect(Int.min.saturatingAdding(-1) == .min)
        #expect(Int(-5).saturatingAdding(3) == -2)
    }
}
