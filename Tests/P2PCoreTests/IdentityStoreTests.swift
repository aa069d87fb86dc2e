import Foundation
import Testing
import TestSupport
@testable import P2PCore

@Suite struct IdentityStoreTests {
    @Test func firstStartCreatesLaterStartsLoadTheSameIdentity() throws {
        let scratch = TemporaryDirectory("id")
        let dir = scratch.file("node")
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
        let scratch = TemporaryDirectory("id")
        let dir = scratch.file("node")
        let store = IdentityStore(directory: dir)
        _ = try store.loadOrCreate()
        try Data("garbage".utf8).write(to: URL(fileURLWithPath: store.idPath))
        #expect(throws: IdentityError.self) { try store.loadOrCreate() }
        // The damaged file is left for the operator, not replaced.
        #expect(FileManager.default.contents(atPath: store.idPath) == Data("garbage".utf8))
    }

    @Test func aDamagedOrMissingKeyIsAnError() throws {
        let scratch = TemporaryDirectory("id")
        let dir = scratch.file("node")
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

@Suite struct SelfCertifyingIdentityTests {
    @Test func aNewIdentityHasTheIdOfItsKey() throws {
        let scratch = TemporaryDirectory("id")
        let dir = scratch.file("id")
        let identity = try IdentityStore(directory: dir).loadOrCreate()
        #expect(identity.isSelfCertifying)
        #expect(identity.id == NodeID(publicKey: identity.publicKeyBytes))
        #expect(identity.id.uuid.uuidString.dropFirst(14).first == "8")  // version 8
        // Another key never yields that id.
        #expect(!identity.id.isDerived(from: NodeIdentity.generate().publicKeyBytes))
        #expect(try !NodeIdentity(id: .random(), signingKey: NodeIdentity.generate().signingKey()).isSelfCertifying)
    }

    @Test func aKeyOthersCanReadOrADirectoryOthersCanWriteIsRefused() throws {
        let scratch = TemporaryDirectory("id")
        let dir = scratch.file("id")
        let store = IdentityStore(directory: dir)
        _ = try store.loadOrCreate()
        chmod(store.keyPath, 0o644)
        #expect(throws: IdentityError.insecurePermissions(path: store.keyPath, mode: 0o644)) { _ = try store.load() }
        chmod(store.keyPath, 0o600)
        chmod(dir, 0o777)
        #expect(throws: IdentityError.insecurePermissions(path: dir, mode: 0o777)) { _ = try store.load() }
        chmod(dir, 0o700)
        #expect(try store.load() != nil)
    }
}

@Suite struct SecretTests {
    @Test func generatedSecretsAreStrongAndCommonOnesWeak() throws {
        let secret = Secret.generate()
        #expect(secret.count == 43)
        #expect((0..<200).allSatisfy { _ in !Secret.generate().hasPrefix("-") })
        #expect(Secret.estimatedBits(secret) >= 128)
        #expect(throws: Never.self) { try Secret.validate(secret, what: "test") }
        for weak in ["", "s3cret", "p2pcore-dev-secret", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "abcdefghijklmnopqrstuvwxyz0123456789"] {
            #expect(throws: Secret.Problem.self, "\(weak)") { try Secret.validate(weak, what: "test") }
        }
        // 32 hex digits (128 random bits) pass.
        #expect(Secret.estimatedBits("9f86d081884c7d659a2feaa0c55ad015") >= 128)
    }

    @Test func secretFilesMustBePrivate() throws {
        let scratch = TemporaryDirectory("secret")
        let path = scratch.file("secret")
        let secret = Secret.generate()
        #expect(FileManager.default.createFile(atPath: path, contents: Data((secret + "\n").utf8), attributes: [.posixPermissions: 0o644]))
        #expect(throws: Secret.Problem.self) { _ = try Secret.read(file: path) }
        chmod(path, 0o600)
        #expect(try Secret.read(file: path) == secret)
    }
}
