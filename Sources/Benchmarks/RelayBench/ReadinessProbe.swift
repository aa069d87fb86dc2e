import Foundation

/// `GET` on a server's monitor (`/readyz`, `/metrics`), with a plain blocking socket (short
/// requests; the bench has no HTTP client otherwise).
enum ReadinessProbe {
    /// The HTTP status of `GET /readyz` at `127.0.0.1:port`, or `nil` if nothing answered within 1 s.
    static func status(port: Int) -> Int? {
        guard let response = get(port: port, path: "/readyz") else { return nil }
        // "HTTP/1.1 200 OK"
        return response.split(separator: " ").dropFirst().first.flatMap { Int($0) }
    }

    /// The values of the samples whose names start with one of `names` (any labels), keyed by
    /// the sample as written (`name{reason="silent"}`), from one scrape of the server's
    /// `/metrics`, or `nil` if the monitor did not answer. `secret` is the admin secret the
    /// monitor asks for.
    static func metrics(port: Int, _ names: [String], secret: String) -> [String: Double]? {
        guard let response = get(port: port, path: "/metrics", authorization: "Bearer \(secret)", timeoutSeconds: 5) else { return nil }
        var values: [String: Double] = [:]
        for line in response.split(separator: "\n") where names.contains(where: { line.hasPrefix($0) }) {
            let parts = line.split(separator: " ")
            guard parts.count >= 2, let value = Double(parts[1]) else { continue }
            values[String(parts[0]), default: 0] += value
        }
        return values
    }

    /// The whole response to `GET path` at `127.0.0.1:port` (HTTP/1.0 with `Connection: close`:
    /// read until the server closes), or `nil` if nothing answered in time.
    private static func get(port: Int, path: String, authorization: String? = nil, timeoutSeconds: Int = 1) -> String? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return nil }
        let credential = authorization.map { "Authorization: \($0)\r\n" } ?? ""
        let request = Array("GET \(path) HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\(credential)\r\n".utf8)
        guard send(fd, request, request.count, 0) == request.count else { return nil }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16 << 10)
        while response.count < 4 << 20 {
            let count = recv(fd, &buffer, buffer.count, 0)
            guard count > 0 else { break }
            response += buffer[0..<count]
        }
        return response.count > 12 ? String(decoding: response, as: UTF8.self) : nil
    }
}
