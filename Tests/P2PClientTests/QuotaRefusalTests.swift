import Delivery
import ClientProtocol
import Foundation
import LMDB
import Mailbox
import MessageModel
import P2PCore
import Testing
import TestSupport
@testable import P2PClient

@Suite struct ClientRequestCapTests {
    private func encodedHello(lan: [String], listen: String = "") -> [UInt8] {
        ClientRequest.hello(ClientHello(lanAddresses: lan, listenAddress: listen, listenPort: 7000, subscribe: true)).encoded()
    }

    @Test func aHelloWithinTheCapsRoundTrips() throws {
        let request = ClientRequest.hello(ClientHello(
            lanAddresses: (0..<16).map { "192.168.1.\($0):7000" }, listenAddress: String(repeating: "h", count: 64), listenPort: 7000, subscribe: true
        ))
        #expect(try ClientRequest(decoding: request.encoded()) == request)
    }

    @Test func aHelloOverTheCapsIsRefused() {
        #expect(throws: DecodingError.tooLarge(field: "hello.lan", length: 17, limit: 16)) {
            try ClientRequest(decoding: encodedHello(lan: (0..<17).map { "192.168.1.\($0):7000" }))
        }
        let long = String(repeating: "a", count: 60) + ":7000"
        #expect(throws: DecodingError.tooLarge(field: "hello.lan", length: 65, limit: 64)) {
            try ClientRequest(decoding: encodedHello(lan: [long]))
        }
        #expect(throws: DecodingError.malformed(field: "hello.lan", reason: "not a host:port address")) {
            try ClientRequest(decoding: encodedHello(lan: ["192.168.1.1"]))
        }
        #expect(throws: DecodingError.tooLarge(field: "hello.listenAddress", length: 65, limit: 64)) {
            try ClientRequest(decoding: encodedHello(lan: [], listen: String(repeating: "h", count: 65)))
        }
        // The 3.8 MB record of the report: 64 addresses of any length.
        let huge = (0..<64).map { _ in String(repeating: "9", count: 60_000) + ":1" }
        #expect(throws: DecodingError.self) { try ClientRequest(decoding: encodedHello(lan: huge)) }
    }

    @Test func connectCandidatesAndDirectPeersAreCapped() throws {
        let peer = NodeID.random()
        let sixteen = (0..<16).map { "10.1.0.\($0):9000" }
        let atCap = ClientRequest.connect(request: 1, peer: peer, tcp: sixteen, udp: sixteen)
        #expect(try ClientRequest(decoding: atCap.encoded()) == atCap)
        #expect(throws: DecodingError.tooLarge(field: "connect.tcp", length: 17, limit: 16)) {
            try ClientRequest(decoding: ClientRequest.connect(request: 1, peer: peer, tcp: sixteen + ["10.2.0.1:1"], udp: []).encoded())
        }
        #expect(throws: DecodingError.tooLarge(field: "connect.udp", length: 17, limit: 16)) {
            try ClientRequest(decoding: ClientRequest.connect(request: 1, peer: peer, tcp: [], udp: sixteen + ["10.2.0.1:1"]).encoded())
        }
        #expect(throws: DecodingError.malformed(field: "connect.udp", reason: "not a host:port address")) {
            try ClientRequest(decoding: ClientRequest.connect(request: 1, peer: peer, tcp: [], udp: ["nonsense"]).encoded())
        }
        let peers = (0..<ClientRecord.Limits.maximumDirectPeers).map { _ in NodeID.random() }
        #expect(try ClientRequest(decoding: ClientRequest.directPeers(peers).encoded()) == .directPeers(peers))
        #expect(throws: DecodingError.tooLarge(field: "direct.peers", length: 4097, limit: 4096)) {
            try ClientRequest(decoding: ClientRequest.directPeers(peers + [.random()]).encoded())
        }
    }
}

@Suite struct QuotaRefusalTests {
    @Test func theNewSendResultsRoundTrip() throws {
        for result: SendResult in [.quotaExceeded(limit: 10_000), .storageFull(limit: 8 << 30)] {
            let push = ServerPush.sendResult(request: 7, result)
            #expect(try ServerPush(decoding: push.encoded()) == push)
        }
    }

    @Test func quotaRefusalsAreNotAccepted() {
        let recipient = NodeID.random()
        let storage = SendError.storageFull(limit: 1 << 30)
        #expect(storage.willStillBeDelivered == false)
        #expect(storage.description.contains("storage is full"))
        #expect(storage.description.contains("not accepted"))
        let quota = SendError.quotaExceeded(recipient, limit: 10_000)
        #expect(quota.willStillBeDelivered == false)
        #expect(quota.description.contains("\(recipient)"))
        #expect(quota.description.contains("10000"))
        #expect(quota.description.contains("not accepted"))
    }
}

@Suite struct OwedSkipLedgerTests {
    let me = NodeID.random()
    let bob = NodeID.random()

    @Test func aRefusedMessageBecomesAnOwedSkipThatSurvivesARestart() throws {
        let scratch = TemporaryDirectory("ledger")
        let path = scratch.path
        do {
            let environment = try Environment(path: path)
            defer { environment.close() }
            let ledger = try ClientLedger(environment: environment, me: me)
            #expect(try ledger.prepare(to: bob, payloads: [[1], [2], [3]]).map(\.id.sequence) == [1, 2, 3])
            _ = try ledger.commit(prepare: [], resolve: [(bob, 1)], skip: [(bob, 2)])
        }
        let environment = try Environment(path: path)
        defer { environment.close() }
        let reopened = try ClientLedger(environment: environment, me: me)
        let pending = try reopened.pending()
        #expect(pending.map(\.id.sequence) == [2, 3])
        #expect(pending.map(\.isSkip) == [true, false])
        #expect(pending.first?.payload == [])
        // The sequence stays taken: the next message gets a new one.
        #expect(try reopened.prepare(to: bob, payloads: [[4]]).map(\.id.sequence) == [4])
        // Once a server stored the skip it leaves the ledger like any resolved entry.
        try reopened.resolve([(bob, 2)])
        #expect(try reopened.pending().map(\.id.sequence) == [3, 4])
        #expect(try reopened.pending().allSatisfy { !$0.isSkip })
        // Turning an entry that is no longer in the outbox into a skip does nothing.
        _ = try reopened.commit(prepare: [], resolve: [], skip: [(bob, 1)])
        #expect(try reopened.pending().map(\.id.sequence) == [3, 4])
    }
}
