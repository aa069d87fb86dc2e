import Testing
@testable import P2PServer

@Suite struct ResidentMemoryTests {
    @Test func statmFieldsAreReadInPages() {
        let memory = ResidentMemory(statm: "187431 93540 70012 3052 0 40123 0\n", pageSize: 4096)
        #expect(memory == ResidentMemory(residentBytes: 93540 * 4096, fileBackedBytes: 70012 * 4096))
        #expect(ResidentMemory(statm: "187431", pageSize: 4096) == nil)
        #expect(ResidentMemory(statm: "a b c", pageSize: 4096) == nil)
    }

    @Test func thisProcessIsResidentAndMapsItsBinary() throws {
        let memory = try #require(ResidentMemory.current())
        #expect(memory.residentBytes > 0)
        #expect(memory.fileBackedBytes > 0 && memory.fileBackedBytes <= memory.residentBytes)
    }

    @Test func heapTrimIsAvailableWithGlibc() {
        // Its answer depends on the heap's state; calling it must be harmless.
        _ = HeapTrim.trim()
    }
}
