import Foundation

/// A fresh directory under the system's temporary directory, removed (with everything in it)
/// when the value goes away.
public struct TemporaryDirectory: ~Copyable {
    public let path: String

    public init(_ label: String = "test") {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("p2pcore-\(label)-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// The path of `name` inside the directory.
    public func file(_ name: String) -> String { path + "/" + name }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Runs `body` with the path of a fresh temporary directory, removed afterwards.
public func withTemporaryDirectory<R>(_ label: String = "test", _ body: (String) throws -> R) rethrows -> R {
    let directory = TemporaryDirectory(label)
    return try body(directory.path)
}

/// Runs `body` with the path of a fresh temporary directory, removed once `body` finished.
public func withTemporaryDirectory<R>(_ label: String = "test", _ body: (String) async throws -> R) async rethrows -> R {
    let directory = TemporaryDirectory(label)
    return try await body(directory.path)
}
