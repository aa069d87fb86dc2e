import ClusterHarness
import Foundation
import P2PClient

extension LocalCluster {
    /// The debug build of `p2pcore-server` that `swift build` made for this package.
    public static var testBinary: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(".build/debug/p2pcore-server").path
    }

    /// Three local server processes of the debug build, with a leader agreed.
    public static func start() async throws -> LocalCluster {
        try await LocalCluster.start(size: 3, binary: testBinary)
    }
}

/// Runs `body` with a local cluster of three server processes, stopped afterwards.
public func withCluster<R>(_ body: (LocalCluster) async throws -> R) async throws -> R {
    let cluster = try await LocalCluster.start()
    defer { cluster.stop() }
    return try await body(cluster)
}

/// Runs `body` with clients started from `configurations` (in order); every client is shut
/// down, and the shutdowns awaited, before this returns — also when `body` throws.
public func withClients<R>(
    _ configurations: [ClientConfiguration], _ body: ([P2PClient]) async throws -> R
) async throws -> R {
    var clients: [P2PClient] = []
    do {
        for configuration in configurations { clients.append(try await P2PClient.start(configuration)) }
    } catch {
        for client in clients { await client.shutdown() }
        throw error
    }
    return try await withScoped(clients, cleanup: { clients in
        for client in clients { await client.shutdown() }
    }, body)
}

/// Runs `body` with one client started from `configuration`, shut down (awaited) afterwards.
public func withClient<R>(_ configuration: ClientConfiguration, _ body: (P2PClient) async throws -> R) async throws -> R {
    try await withClients([configuration]) { clients in try await body(clients[0]) }
}
