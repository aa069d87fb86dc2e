import AdminProtocol
import ArgumentParser
import Foundation
import P2PCore
import Transport

/// Which server to talk to, and how.
struct ConnectionOptions: ParsableArguments {
    @Option(name: .long, help: "A server's host:port (default: P2PCORE_SERVER, else 127.0.0.1:7400).")
    var server: String?

    @Option(name: .long, help: "The cluster secret (default: P2PCORE_SECRET, else the development secret).")
    var secret: String?

    @Option(name: .long, help: "The admin secret, if the cluster requires one (default: P2PCORE_ADMIN_SECRET).")
    var adminSecret: String?

    @Option(name: .long, help: "Seconds to wait for the server.")
    var timeout: Int = 30

    var address: String {
        server ?? ProcessInfo.processInfo.environment["P2PCORE_SERVER"] ?? "127.0.0.1:7400"
    }

    var resolvedSecret: String {
        secret ?? ProcessInfo.processInfo.environment["P2PCORE_SECRET"] ?? "p2pcore-dev-secret"
    }

    /// Sends one request; prints a one-line error and exits with the matching code on failure.
    func perform(_ request: AdminRequest) async throws -> AdminResponse {
        guard let target = HostPort(address) else {
            throw ValidationError("expected host:port for --server, got '\(address)'")
        }
        let client: AdminClient
        do {
            client = try await AdminClient.connect(
                to: target, secret: resolvedSecret,
                adminSecret: adminSecret ?? ProcessInfo.processInfo.environment["P2PCORE_ADMIN_SECRET"],
                timeout: .seconds(min(timeout, 10))
            )
        } catch TransportError.authenticationFailed {
            throw AdminExit.fail(.unauthorized, "the server at \(address) refused the secret (wrong --secret or P2PCORE_SECRET?)")
        } catch {
            let reason = "\(error)".contains("refused") ? "connection refused" : "\(error)"
            throw AdminExit.fail(.unreachable, "cannot reach a p2pcore server at \(address) (\(reason))")
        }
        defer { client.close() }
        let response: AdminResponse
        do {
            response = try await client.request(request, timeout: .seconds(timeout))
        } catch {
            throw AdminExit.fail(.unreachable, "the server at \(address) did not answer: \(error)")
        }
        if case .failed(let failure) = response {
            switch failure.kind {
            case .notFound: throw AdminExit.fail(.notFound, failure.message)
            case .invalid: throw AdminExit.fail(.badUsage, failure.message)
            case .unavailable: throw AdminExit.fail(.notDone, failure.message)
            case .unauthorized: throw AdminExit.fail(.unauthorized, failure.message)
            }
        }
        return response
    }
}

/// Parses a client or server id argument.
func parseID(_ text: String, _ what: String) throws -> NodeID {
    guard let id = NodeID(uuidString: text) else { throw ValidationError("\(what) must be a UUID, got '\(text)'") }
    return id
}
