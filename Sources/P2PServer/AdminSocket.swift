import AdminProtocol
import Foundation
import NIOCore
import NIOPosix
import Transport
import WireCodec

/// The local admin endpoint: a Unix socket in the data directory, mode 0600, so that only the
/// server's own user (and root) can administer it without any secret. Frames carry one
/// ``AdminRequest`` each and get one ``AdminResponse``; the kernel's file permissions are the
/// credential, so nothing is encrypted.
final class AdminSocket: Sendable {
    private let channel: any Channel

    private init(channel: any Channel) {
        self.channel = channel
    }

    /// Largest admin request accepted (requests are small JSON documents).
    static let maximumRequestSize = 64 << 10

    /// Binds `path` (replacing a stale socket file) and answers each request with `answer`.
    static func bind(path: String, answer: @escaping @Sendable (AdminRequest) async -> AdminResponse) async throws -> AdminSocket {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder(maximumFrameSize: maximumRequestSize)))
                    try channel.pipeline.syncOperations.addHandler(FrameWriter())
                    return try AcceptedChannel(pausing: channel)
                }
            }
        guard chmod(path, 0o600) == 0 else {
            try? await server.channel.close()
            throw AdminSocketError(path: path, reason: String(cString: strerror(errno)))
        }
        Task {
            try? await server.executeThenClose { connections in
                try await withThrowingDiscardingTaskGroup { group in
                    for try await connection in connections {
                        group.addTask { try? await serve(try await connection.wrap(as: NIOAsyncChannel<Frame, Frame>.self), answer) }
                    }
                }
            }
        }
        return AdminSocket(channel: server.channel)
    }

    private static func serve(_ connection: NIOAsyncChannel<Frame, Frame>, _ answer: @Sendable (AdminRequest) async -> AdminResponse) async throws {
        try await connection.executeThenClose { inbound, outbound in
            for try await frame in inbound {
                guard frame.type == AdminProtocol.requestFrame else { return }
                let response: AdminResponse
                if let request = try? AdminProtocol.decode(AdminRequest.self, from: frame.bytes) {
                    response = await answer(request)
                } else {
                    response = .failed(AdminFailure(.invalid, "malformed admin request"))
                }
                try await outbound.write(Frame(type: AdminProtocol.responseFrame, bytes: try AdminProtocol.encode(response)))
            }
        }
    }

    func close() {
        channel.close(promise: nil)
    }
}

/// The admin socket could not be made private.
struct AdminSocketError: Error, CustomStringConvertible {
    let path: String
    let reason: String
    var description: String { "cannot restrict the admin socket \(path) to this user: \(reason)" }
}
