import Foundation
import P2PCore
import Synchronization

/// The cluster key a client trusts (its public half: see `ClusterKey`).
///
/// From ``ClientConfiguration/clusterKey`` when given; otherwise the key of the first cluster the
/// client attaches to is trusted (trust on first use, as ssh does) and remembered in
/// `<state directory>/cluster.key`. Every server of the cluster — those added later included —
/// proves it holds that key on every link; a node that holds only the cluster secret (a client
/// posing as a server) cannot.
final class ClusterKeyPin: Sendable {
    private let path: String
    private let key: Mutex<[UInt8]?>

    /// Loads the pin kept in `directory`; a configured key takes precedence (and is not written).
    init(directory: String, configured: [UInt8]?) {
        path = directory + "/cluster.key"
        if let configured {
            key = Mutex(configured)
        } else if let text = try? String(contentsOfFile: path, encoding: .utf8), let stored = ClusterKey.publicKey(fingerprint: text) {
            key = Mutex(stored)
        } else {
            key = Mutex(nil)
        }
    }

    /// Whether `publicKey` is the cluster's key; the first key seen is pinned when none is.
    func admits(_ publicKey: [UInt8]) -> Bool {
        let (admitted, pinnedNow) = key.withLock { key -> (Bool, Bool) in
            guard let pinned = key else {
                key = publicKey
                return (true, true)
            }
            return (pinned == publicKey, false)
        }
        if pinnedNow {
            let text = ClusterKey.fingerprint(of: publicKey) + "\n"
            let temporary = path + ".tmp"
            if FileManager.default.createFile(atPath: temporary, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) {
                _ = rename(temporary, path)
            }
        }
        return admitted
    }

    /// The pinned fingerprint, if any.
    var fingerprint: String? { key.withLock { $0.map(ClusterKey.fingerprint(of:)) } }
}
