import AdminProtocol
import ArgumentParser
import Foundation
import P2PCore
import Transport

/// Which server to talk to, and how: through its local admin socket (the default, no secret:
/// the socket's file permissions admit the server's user only), or remotely as an operator
/// with the admin secret.
struct ConnectionOptions: ParsableArguments {
    @Option(name: .long, help: "The server's data directory: talk to it through <data-dir>/admin.sock (default: ./p2pcore-data).")
    var dataDir: String?

    @Option(name: .long, help: "A remote server's host:port (default: P2PCORE_SERVER); needs the admin secret.")
    var server: String?

    @Option(name: .long, help: "File holding the admin secret for --server (default: P2PCORE_ADMIN_SECRET, or the file in P2PCORE_ADMIN_SECRET_FILE).")
    var adminSecretFile: String?

    @Option(name: .long, help: "Seconds to wait for the server.")
    var timeout: Int = 30

    func validate() throws {
        guard (1...86_400).contains(timeout) else { throw ValidationError("--timeout must be 1 to 86400 seconds, not \(timeout)") }
    }

    /// The remote address, if admin goes over the network.
    var remote: String? {
        server ?? (dataDir == nil ? ProcessInfo.processInfo.environment["P2PCORE_SERVER"] : nil)
    }

    var socketPath: String { (dataDir ?? "./p2pcore-data") + "/admin.sock" }

    /// Where requests go, for messages.
    var address: String { remote ?? socketPath }

    /// Sends one request; prints a one-line error and exits with the matching code on failure.
    func perform(_ request: AdminRequest) async throws -> AdminResponse {
        let client: AdminClient
        if let remote {
            guard let target = HostPort(remote) else {
                throw ValidationError("expected host:port for --server, got '\(remote)'")
            }
            let secret: String
            do {
                guard let resolved = try Secret.resolve(value: nil, file: adminSecretFile, environment: "P2PCORE_ADMIN_SECRET") else {
                    throw AdminExit.fail(.unauthorized, "remote admin needs the admin secret: --admin-secret-file or P2PCORE_ADMIN_SECRET")
                }
                secret = resolved
            } catch let problem as Secret.Problem {
                throw AdminExit.fail(.badUsage, problem.description)
            }
            do {
                client = try await AdminClient.connect(to: target, adminSecret: secret, timeout: .seconds(min(timeout, 10)))
            } catch TransportError.authenticationFailed(let why) {
                throw AdminExit.fail(.unauthorized, "the server at \(remote) refused the admin secret (\(why))")
            } catch {
                let reason = "\(error)".contains("refused") ? "connection refused" : "\(error)"
                throw AdminExit.fail(.unreachable, "cannot reach a p2pcore server at \(remote) (\(reason))")
            }
        } else {
            guard FileManager.default.fileExists(atPath: socketPath) else {
                throw AdminExit.fail(.unreachable, "no admin socket at \(socketPath): is a server running with that data directory? (--data-dir, or --server for a remote one)")
            }
            client = AdminClient.local(socket: socketPath)
        }
        defer { client.close() }
        let response: AdminResponse
        do {
            response = try await client.request(request, timeout: .seconds(timeout))
        } catch {
            let reason = "\(error)".contains("ermission denied") ? "permission denied: run as the server's user" : "\(error)"
            throw AdminExit.fail(.unreachable, "the server at \(address) did not answer: \(reason)")
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
