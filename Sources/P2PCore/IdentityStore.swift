import Crypto
import Foundation

/// Keeps a node's identity in its state directory so that the node keeps its id across restarts.
///
/// Two files: `node.id` (the UUID as text) and, beside it, `node.key` (the raw Ed25519 private
/// key, mode 0600). The first start creates both, the id derived from the key
/// (``NodeID/init(publicKey:)``); later starts load them. A key file that others can read, or a
/// state directory that others can write, is refused (``IdentityError/insecurePermissions(path:mode:)``),
/// as ssh refuses such keys. Anything damaged or
/// half-present is an ``IdentityError/damaged(path:reason:)``: a node never silently takes a new
/// id, since its id is what its mailbox and its peers' trust are bound to.
public struct IdentityStore: Sendable {
    /// The state directory.
    public let directory: String

    public var idPath: String { directory + "/node.id" }
    public var keyPath: String { directory + "/node.key" }

    public init(directory: String) {
        self.directory = directory
    }

    /// Loads the identity, or creates it (and the directory, mode 0700) on the first start.
    public func loadOrCreate() throws(IdentityError) -> NodeIdentity {
        if let identity = try load() {
            return identity
        }
        return try create()
    }

    /// Loads the identity; `nil` when the directory holds none yet.
    public func load() throws(IdentityError) -> NodeIdentity? {
        let fm = FileManager.default
        let hasID = fm.fileExists(atPath: idPath)
        let hasKey = fm.fileExists(atPath: keyPath)
        switch (hasID, hasKey) {
        case (false, false):
            return nil
        case (true, false):
            throw .damaged(path: keyPath, reason: "node.id exists but its key file is missing")
        case (false, true):
            throw .damaged(path: idPath, reason: "node.key exists but the id file is missing")
        case (true, true):
            break
        }
        try Self.checkPermissions(directory: directory, secret: [keyPath], public: [idPath])
        let idText = try read(idPath)
        guard let text = String(bytes: idText, encoding: .utf8),
              let id = NodeID(uuidString: text.trimmingCharacters(in: .whitespacesAndNewlines))
        else {
            throw .damaged(path: idPath, reason: "not a UUID")
        }
        let keyBytes = try read(keyPath)
        guard keyBytes.count == 32 else {
            throw .damaged(path: keyPath, reason: "expected 32 key bytes, found \(keyBytes.count)")
        }
        do {
            return try NodeIdentity(id: id, privateKeyBytes: keyBytes)
        } catch {
            throw .damaged(path: keyPath, reason: error.description)
        }
    }

    private func create() throws(IdentityError) -> NodeIdentity {
        let identity = NodeIdentity.generate()
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700]
            )
        } catch {
            throw .io(path: directory, reason: "\(error)")
        }
        // The key goes first: an id file is only ever written once its key is on disk.
        try writeAtomically(identity.privateKeyBytes, to: keyPath)
        try writeAtomically(Array((identity.id.description + "\n").utf8), to: idPath)
        return identity
    }

    /// Throws unless `directory` and the existing files in `public` are writable by their owner
    /// only, and the existing files in `secret` are readable by their owner only.
    public static func checkPermissions(directory: String, secret: [String], public: [String] = []) throws(IdentityError) {
        var info = stat()
        let rules = [(directory, mode_t(0o022))] + secret.map { ($0, mode_t(0o077)) } + `public`.map { ($0, mode_t(0o022)) }
        for (path, forbidden) in rules
        where stat(path, &info) == 0 && info.st_mode & forbidden != 0 {
            throw .insecurePermissions(path: path, mode: UInt32(info.st_mode & 0o777))
        }
    }

    private func read(_ path: String) throws(IdentityError) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .io(path: path, reason: "unreadable")
        }
        return Array(data)
    }

    /// Writes through a temporary file, fsyncs it, then renames it into place (mode 0600).
    private func writeAtomically(_ bytes: [UInt8], to path: String) throws(IdentityError) {
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw .io(path: temporary, reason: String(cString: strerror(errno))) }
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd)
        close(fd)
        guard written == bytes.count, synced == 0 else {
            throw .io(path: temporary, reason: "short write or fsync failure")
        }
        guard rename(temporary, path) == 0 else {
            throw .io(path: path, reason: String(cString: strerror(errno)))
        }
        let dirFD = open(directory, O_RDONLY)
        if dirFD >= 0 {
            fsync(dirFD)
            close(dirFD)
        }
    }
}
