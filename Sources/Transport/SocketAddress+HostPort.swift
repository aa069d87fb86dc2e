import NIOCore
import P2PCore

extension SocketAddress {
    /// The address of `text` (`host:port`; an IPv6 host may be bracketed). A numeric host is taken
    /// as is; a name is resolved (which blocks). Throws ``TransportError/unreachable(_:)``.
    static func resolving(_ text: String) throws -> SocketAddress {
        guard let hostPort = HostPort(text), !hostPort.host.isEmpty else {
            throw TransportError.unreachable("\(text) (not host:port)")
        }
        var host = hostPort.host
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if let numeric = try? SocketAddress(ipAddress: host, port: hostPort.port) { return numeric }
        do {
            return try SocketAddress.makeAddressResolvingHost(host, port: hostPort.port)
        } catch {
            throw TransportError.unreachable("\(text) (\(error))")
        }
    }

    /// `ip:port`, or nil for an address without both (a Unix socket).
    var hostPortText: String? {
        guard let ip = ipAddress, let port else { return nil }
        return "\(ip):\(port)"
    }
}
