import Foundation

/// A fresh directory under the system's temporary directory, removed by `remove()`.
struct TemporaryDirectory: ~Copyable {
    let path: String

    init(_ label: String = "lmdb") {
        path = FileManager.default.temporaryDirectory
            .appendingPathComponent("p2pcore-\(label)-\(UUID().uuidString)").path
    }

    func file(_ name: String) -> String { path + "/" + name }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}
