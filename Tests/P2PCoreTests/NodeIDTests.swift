import Testing
import Foundation
@testable import P2PCore

@Suite struct NodeIDTests {
    @Test func binaryRoundTrip() throws {
        let id = NodeID.random()
        #expect(id.bytes.count == 16)
        #expect(NodeID(bytes: id.bytes) == id)
        #expect(NodeID(bytes: [1, 2, 3]) == nil)
    }

    @Test func textRoundTrip() {
        let id = NodeID.random()
        #expect(NodeID(uuidString: id.description) == id)
        #expect(NodeID(uuidString: "not-a-uuid") == nil)
    }

    @Test func orderingMatchesBinaryForm() {
        let a = NodeID(bytes: [UInt8](repeating: 0, count: 15) + [1])!
        let b = NodeID(bytes: [UInt8](repeating: 0, count: 15) + [2])!
        #expect(a < b)
        #expect(!(b < a))
    }
}
