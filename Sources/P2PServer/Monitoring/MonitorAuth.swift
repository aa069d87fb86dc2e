import Crypto
import Foundation
import Hummingbird

/// The monitor's credential check: the admin secret, as `Authorization: Bearer <secret>` or as
/// the password of HTTP basic auth (any user name; browsers ask for it on a 401), compared in
/// constant time. `/healthz` and `/readyz` stay open (load balancers and orchestrators probe them).
struct MonitorAuth<Context: RequestContext>: RouterMiddleware {
    /// The admin secret; `nil`: everything is served to anyone (bind the monitor to localhost then).
    let secret: String?

    static var openPaths: Set<String> { ["/healthz", "/readyz"] }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let secret, !Self.openPaths.contains(request.uri.path) else { return try await next(request, context) }
        guard MonitorCredential.authorizes(request.headers[.authorization], secret: secret) else {
            return Response(status: .unauthorized, headers: [.wwwAuthenticate: "Basic realm=\"p2pcore monitor\", charset=\"UTF-8\""])
        }
        return try await next(request, context)
    }
}

/// The admin secret in an `Authorization` header.
enum MonitorCredential {
    /// Whether an `Authorization` header carries `secret` (bearer token, or basic auth password).
    static func authorizes(_ header: String?, secret: String) -> Bool {
        guard let header, let space = header.firstIndex(of: " ") else { return false }
        let scheme = header[..<space].lowercased()
        let credential = header[header.index(after: space)...].trimmingCharacters(in: .whitespaces)
        let presented: String
        switch scheme {
        case "bearer":
            presented = credential
        case "basic":
            guard let decoded = Data(base64Encoded: credential), let text = String(data: decoded, encoding: .utf8),
                  let colon = text.firstIndex(of: ":")
            else { return false }
            presented = String(text[text.index(after: colon)...])
        default:
            return false
        }
        return constantTimeEqual(presented, secret)
    }

    /// Compares the SHA-256 digests of both strings without an early exit, so that the time taken
    /// tells nothing about how much of the secret matched (nor its length).
    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(SHA256.hash(data: Data(a.utf8)))
        let y = Array(SHA256.hash(data: Data(b.utf8)))
        var difference: UInt8 = 0
        for index in x.indices { difference |= x[index] ^ y[index] }
        return difference == 0
    }
}
