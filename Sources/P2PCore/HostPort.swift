/// A `host:port` address as given on command lines and in configurations.
public struct HostPort: Equatable, Sendable, CustomStringConvertible {
    public let host: String
    public let port: Int

    /// Parses `host:port` (the last colon separates the port, which must be 0...65535).
    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"),
              let port = Int(text[text.index(after: colon)...]), (0...65_535).contains(port)
        else { return nil }
        host = String(text[..<colon])
        self.port = port
    }

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var description: String { "\(host):\(port)" }

    /// Whether a listen host means every interface (others must be told a reachable address).
    public static func isWildcard(_ host: String) -> Bool { host == "0.0.0.0" || host == "::" }
}
