import Foundation

/// Cluster, server and admin secrets: how they are made, loaded and checked.
///
/// A secret is a pre-shared key, so its strength is its entropy: every p2pcore secret must carry
/// at least ``minimumBits`` (128) bits. ``generate()`` makes one of 256 bits.
public enum Secret {
    /// The least entropy accepted, in bits.
    public static let minimumBits = 128.0

    /// Why a secret was refused.
    public enum Problem: Error, Equatable, Sendable, CustomStringConvertible {
        /// No secret was given and no development mode was asked for.
        case missing(what: String)
        /// The secret carries too little entropy.
        case weak(what: String, bits: Int)
        /// A secret file could not be read or is readable by others.
        case unreadable(path: String, reason: String)

        public var description: String {
            switch self {
            case .missing(let what):
                "no \(what) given: generate one with `p2pcore-server generate-secret` and pass it in a file or the environment"
            case .weak(let what, let bits):
                "the \(what) carries about \(bits) bits of entropy, under the \(Int(Secret.minimumBits)) required: generate one with `p2pcore-server generate-secret`"
            case .unreadable(let path, let reason): "cannot use secret file \(path): \(reason)"
            }
        }
    }

    /// A fresh secret: 32 random bytes, base64url without padding (43 characters, 256 bits),
    /// never starting with `-` (which a command line would take for an option).
    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        while true {
            let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let text = base64URL(bytes)
            if !text.hasPrefix("-") { return text }
        }
    }

    /// `bytes` in base64url without padding (RFC 4648 §5), the text form of secrets and keys.
    public static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// A conservative estimate of the entropy of `secret`, in bits: its length times the
    /// information of one character drawn from the classes it uses (lower case, upper case,
    /// digits, other), counting a repeated or sequential run as one character.
    public static func estimatedBits(_ secret: String) -> Double {
        let scalars = Array(secret.unicodeScalars)
        guard !scalars.isEmpty else { return 0 }
        var alphabet = 0
        if scalars.contains(where: { ("a"..."z").contains($0) }) { alphabet += 26 }
        if scalars.contains(where: { ("A"..."Z").contains($0) }) { alphabet += 26 }
        if scalars.contains(where: { ("0"..."9").contains($0) }) { alphabet += 10 }
        if scalars.contains(where: { !$0.properties.isAlphabetic && !("0"..."9").contains($0) }) { alphabet += 33 }
        if scalars.contains(where: { $0.value > 127 }) { alphabet += 100 }
        // Characters that repeat or continue a sequence of the previous one add little.
        var informative = 1
        for (previous, current) in zip(scalars, scalars.dropFirst()) {
            let step = Int(current.value) - Int(previous.value)
            if abs(step) > 1 { informative += 1 }
        }
        let distinct = Set(scalars).count
        return Double(min(informative, distinct * 4)) * log2(Double(max(alphabet, 2)))
    }

    /// Throws ``Problem/weak(what:bits:)`` unless `secret` carries at least ``minimumBits``.
    public static func validate(_ secret: String, what: String) throws(Problem) {
        let bits = estimatedBits(secret)
        guard bits >= minimumBits else { throw .weak(what: what, bits: Int(bits)) }
    }

    /// Reads a secret from a file (trailing whitespace trimmed); the file must not be readable by others.
    public static func read(file path: String) throws(Problem) -> String {
        var info = stat()
        guard stat(path, &info) == 0 else { throw .unreadable(path: path, reason: String(cString: strerror(errno))) }
        guard info.st_mode & 0o077 == 0 else {
            throw .unreadable(path: path, reason: "mode \(String(info.st_mode & 0o777, radix: 8)) lets other users read it; chmod 600 \(path)")
        }
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw .unreadable(path: path, reason: "not readable UTF-8 text")
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The secret from, in order: a file given on the command line, the value given on the
    /// command line, the environment variable `environment`, the file named by `environment` + `_FILE`.
    /// `nil` when none is given. `environment` is the process environment unless a test gives one.
    public static func resolve(
        value: String?, file: String?, environment variable: String,
        in environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(Problem) -> String? {
        if let file { return try read(file: file) }
        if let value { return value }
        if let value = environment[variable] { return value }
        if let file = environment[variable + "_FILE"] { return try read(file: file) }
        return nil
    }
}
