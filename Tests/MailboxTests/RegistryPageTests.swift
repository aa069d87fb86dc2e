import MessageModel
import Testing
@testable import Mailbox
@testable import P2PCore

/// The registry read a page at a time: ordered by id, from a cursor, at most a limit.
@Suite struct RegistryPageTests {
    @Test func pagesWalkTheRegistryInIDOrderAndSkipExcludedIDs() throws {
        let fixture = try StoreFixture()
        let ids = (0..<25).map { _ in NodeID.random() }
        for id in ids { try fixture.register(id) }
        let excluded = Set(ids.prefix(3))
        var listed: [NodeID] = []
        var cursor: NodeID?
        var pages = 0
        while true {
            let page = try fixture.store.clients(after: cursor, limit: 7, excluding: excluded)
            #expect(page.records.count <= 7)
            listed += page.records.map(\.id)
            pages += 1
            guard page.more, let last = page.records.last else { break }
            cursor = last.id
        }
        #expect(listed == ids.filter { !excluded.contains($0) }.sorted())
        #expect(pages == 4, "22 records in pages of 7")
        let exact = try fixture.store.clients(after: nil, limit: 22, excluding: excluded)
        #expect(exact.records.count == 22 && !exact.more, "a page that ends with the registry says no more follow")
        #expect(try fixture.store.clients(after: listed.last, limit: 7, excluding: excluded).records.isEmpty)
        #expect(try fixture.store.clients(after: nil, limit: 0).more, "a zero limit lists nothing but knows more exist")
    }
}
