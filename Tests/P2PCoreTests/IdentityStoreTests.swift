import Foundation
import Testing
@testable import P2PCore

@Suite struct IdentityStoreTests {
    private func temporaryDirectory() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("p2pcore-id-\(UUID().uuidString)").path
    }

    @Test func firstStartCreatesLaterStartsLoadTheSameIdentity() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = IdentityStore(directory: dir)
        let first = try store.loadOrCreate()
        let second = try IdentityStore(directory: dir).loadOrCreate()
        #expect(first == second)

        let keyMode = try FileManager.default.attributesOfItem(atPath: store.keyPath)[.posixPermissions] as? Int
        #expect(keyMode == 0o600)
        let signature = try second.sign(Data("hello".utf8))
        #expect(NodeIdentity.isValidSignature(signature, for: Data("hello".utf8), publicKeyBytes: first.publicKeyBytes))
        #expect(!NodeIdentity.isValidSignature(signature, for: Data("hullo".utf8), publicKeyBytes: first.publicKeyBytes))
    }

    @Test func aDamagedIdFileIsAnErrorNeverANewID() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = IdentityStore(directory: dir)
        _ = try store.loadOrCreate()
        try Data("garbage".utf8).write(to: URL(fileURLWithPath: store.idPath))
        #expect(throws: IdentityError.self) { try store.loadOrCreate() }
        // The damaged file is left for the operator, not replaced.
        #expect(FileManager.default.contents(atPath: store.idPath) == Data("garbage".utf8))
    }

    @Test func aDamagedOrMissingKeyIsAnError() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = IdentityStore(directory: dir)
        _ = try store.loadOrCreate()
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: store.keyPath))
        do {
            _ = try store.loadOrCreate()
            Issue.record("a 3-byte key must be rejected")
        } catch {
            guard case .damaged(let path, _) = error else {
                Issue.record("expected .damaged, got \(error)")
                return
            }
            #expect(path == store.keyPath)
        }
        try FileManager.default.removeItem(atPath: store.keyPath)
        #expect(throws: IdentityError.self) { try store.loadOrCreate() }
    }
}
