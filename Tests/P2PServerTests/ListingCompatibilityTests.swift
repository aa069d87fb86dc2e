import AdminProtocol
import ClientProtocol
import Foundation
import MessageModel
import P2PCore
import Testing

/// Paginated listings on the wire: the new requests round-trip, and what tools and clients from
/// before pagination send still decodes (and what they receive still decodes for them).
@Suite struct ListingCompatibilityTests {
    @Test func clientPagesRoundTripAndTheirSizeIsBoundedOnDecoding() throws {
        let after = NodeID.random()
        for query in [ClientRequest.Query.clientPage(after: after, limit: 50), .clientPage(after: nil, limit: .max), .clients] {
            let request = ClientRequest.query(request: 7, query)
            #expect(try ClientRequest(decoding: request.encoded()) == request)
        }
        let record = ClientRecord(id: .random(), publicKey: [UInt8](repeating: 1, count: 32))
        let page = ServerPush.queryResult(request: 7, .clientPage([record], more: true))
        #expect(try ServerPush(decoding: page.encoded()) == page)
        let oversized = ServerPush.queryResult(request: 7, .clientPage(Array(repeating: record, count: ClientRequest.maximumClientsPerPage + 1), more: false))
        #expect(throws: DecodingError.self) { try ServerPush(decoding: oversized.encoded()) }
    }

    @Test func adminRequestsFromBeforePaginationStillDecode() throws {
        let client = NodeID.random()
        let old = try #require(#"{"clients":{}}"#.data(using: .utf8))
        #expect(try JSONDecoder().decode(AdminRequest.self, from: old) == .clients)
        let oldMailbox = try #require(#"{"mailbox":{"client":"\#(client)","peek":3}}"#.data(using: .utf8))
        #expect(try JSONDecoder().decode(AdminRequest.self, from: oldMailbox) == .mailbox(client: client, peek: 3, after: nil))
        // A new request without a cursor reads as the old one did.
        let encoded = try JSONEncoder().encode(AdminRequest.mailbox(client: client, peek: 3))
        #expect(try JSONDecoder().decode(AdminRequest.self, from: encoded) == .mailbox(client: client, peek: 3))
        for request in [AdminRequest.clientPage(after: client, limit: 10), .clientPage(after: nil, limit: 10)] {
            #expect(try AdminProtocol.decode(AdminRequest.self, from: AdminProtocol.encode(request)) == request)
        }
        // A report from a server before pagination (no `next`, no `arrival`) still decodes.
        let report = MailboxReport(client: client, messages: 1, bytes: 2, oldestMessageMillis: nil, peek: [
            MailboxReport.Message(id: MessageID(sender: client, sequence: 1), size: 2, enqueuedAtMillis: 3, payload: [1, 2]),
        ])
        var json = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(report)) as? [String: Any])
        json["next"] = nil
        #expect(try JSONDecoder().decode(MailboxReport.self, from: JSONSerialization.data(withJSONObject: json)) == report)
    }
}
