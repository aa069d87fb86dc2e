import Foundation
import P2PCore
import Synchronization

/// The servers a client trusts, by id (ids are derived from keys, so an id pins a key).
///
/// Seeded from ``ClientConfiguration/trustedServers`` when given; otherwise the first cluster
/// the client attaches to is trusted (trust on first use, as ssh does) and its members are
/// remembered in `<state directory>/servers.pinned`. Later members are learned from servers
/// already trusted. A listener that holds the cluster secret but is not a pinned server — a
/// client posing as a server — is refused.
final class ServerPins: Sendable {
    private let path: String?
    private let pinned: Mutex<Set<NodeID>>

    /// Loads the pins kept in `directory` (`nil`: in memory only), adding `trusted`.
    init(directory: String?, trusted: [NodeID]) {
        path = directory.map { $0 + "/servers.pinned" }
        var ids = Set(trusted)
        if let path, let text = try? String(contentsOfFile: path, encoding: .utf8) {
            for line in text.split(whereSeparator: \.isNewline) {
                if let id = NodeID(uuidString: String(line).trimmingCharacters(in: .whitespaces)) { ids.insert(id) }
            }
        }
        pinned = Mutex(ids)
    }

    var isEmpty: Bool { pinned.withLock { $0.isEmpty } }

    func contains(_ id: NodeID) -> Bool { pinned.withLock { $0.contains(id) } }

    /// Trusts `ids` from now on (and remembers them).
    func pin(_ ids: some Sequence<NodeID>) {
        let (changed, all) = pinned.withLock { pinned -> (Bool, Set<NodeID>) in
            let before = pinned.count
            pinned.formUnion(ids)
            return (pinned.count != before, pinned)
        }
        guard changed, let path else { return }
        let text = all.sorted().map(\.description).joined(separator: "\n") + "\n"
        let temporary = path + ".tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else { return }
        _ = rename(temporary, path)
    }
}
