import Foundation

/// Checks a JSON config file before swift-configuration reads it: that it is a JSON object,
/// that every key is a known setting (with a suggestion for a misspelt one), that no secret is
/// written into it, and that every value has its setting's type.
///
/// swift-configuration's `FileProvider` accepts any keys and reports a wrongly typed value only
/// when it is read; checking the whole file first gives the operator every mistake's location
/// at startup, before the server touches its data.
enum ConfigFileValidator {
    /// A JSON value as the file holds it; booleans and numbers stay apart (Foundation's
    /// `JSONSerialization` does not keep them apart on every platform).
    enum Value: Decodable {
        case boolean(Bool), integer(Int), number(Double), string(String), array([Value]), object([String: Value]), null

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() { self = .null }
            else if let value = try? container.decode(Bool.self) { self = .boolean(value) }
            else if let value = try? container.decode(Int.self) { self = .integer(value) }
            else if let value = try? container.decode(Double.self) { self = .number(value) }
            else if let value = try? container.decode(String.self) { self = .string(value) }
            else if let value = try? container.decode([Value].self) { self = .array(value) }
            else { self = .object(try container.decode([String: Value].self)) }
        }

        func matches(_ kind: SettingKey.Kind) -> Bool {
            switch (self, kind) {
            case (.null, _): true  // absent, as swift-configuration treats it
            case (.string, .string), (.string, .duration), (.integer, .integer), (.integer, .number),
                 (.number, .number), (.boolean, .boolean):
                true
            case (.array(let elements), .stringList):
                elements.allSatisfy { if case .string = $0 { true } else { false } }
            default: false
            }
        }
    }

    /// Validates the file at `path`; throws the first problem found.
    static func validate(path: String) throws(SettingsError) {
        guard let data = FileManager.default.contents(atPath: path) else {
            let reason = FileManager.default.fileExists(atPath: path) ? "permission denied" : "no such file"
            throw .unreadableFile(path: path, reason: reason)
        }
        try validate(data: data, path: path)
    }

    /// Validates `data`, the contents of the file at `path`.
    static func validate(data: Data, path: String) throws(SettingsError) {
        let root: Value
        do {
            root = try JSONDecoder().decode(Value.self, from: data)
        } catch {
            throw .malformedFile(path: path, reason: reason(error))
        }
        guard case .object(let object) = root else {
            throw .malformedFile(path: path, reason: "the top level must be an object ({ ... })")
        }
        let known = Dictionary(uniqueKeysWithValues: SettingKey.all.map { ($0.name, $0) })
        for (name, value) in flattened(object).sorted(by: { $0.key < $1.key }) {
            if let use = SettingKey.refusedSecretKeys[name] { throw .secretInFile(path: path, key: name, use: use) }
            guard let key = known[name] else {
                throw .unknownKey(path: path, key: name, suggestion: suggestion(for: name, among: Array(known.keys)))
            }
            guard value.matches(key.kind) else {
                throw .wrongType(key: name, location: SettingSource.file(path).locate(key), expected: key.kind.description)
            }
        }
    }

    /// Nested objects flattened to dotted keys, as swift-configuration's `JSONSnapshot` reads them.
    static func flattened(_ object: [String: Value], prefix: String = "") -> [String: Value] {
        var result: [String: Value] = [:]
        for (key, value) in object {
            if case .object(let nested) = value {
                result.merge(flattened(nested, prefix: prefix + key + ".")) { _, new in new }
            } else {
                result[prefix + key] = value
            }
        }
        return result
    }

    /// The known key closest to `name`: equal but for case, a prefix of it or it of the key, or at most 3 edits away.
    static func suggestion(for name: String, among keys: [String]) -> String? {
        let lowered = name.lowercased()
        if let same = keys.first(where: { $0.lowercased() == lowered }) { return same }
        // One a prefix of the other (`dataDirectory` for `dataDir`): the longest such key.
        let prefixed = keys.filter { lowered.hasPrefix($0.lowercased()) || $0.lowercased().hasPrefix(lowered) }
        if let longest = prefixed.max(by: { $0.count < $1.count }), longest.count >= 4 { return longest }
        let scored = keys.map { ($0, editDistance(Array($0.lowercased()), Array(name.lowercased()))) }
        guard let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= 3 else { return nil }
        return best.0
    }

    private static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        var previous = Array(0...b.count)
        for (i, ca) in a.enumerated() {
            var current = [i + 1] + Array(repeating: 0, count: b.count)
            for (j, cb) in b.enumerated() {
                current[j + 1] = min(previous[j + 1] + 1, current[j] + 1, previous[j] + (ca == cb ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }

    /// A one-line reason for a JSON decoding failure.
    private static func reason(_ error: any Error) -> String {
        guard case DecodingError.dataCorrupted(let context) = error else { return String(describing: error) }
        if let underlying = context.underlyingError {
            let text = (underlying as NSError).userInfo[NSDebugDescriptionErrorKey] as? String
            return text ?? context.debugDescription
        }
        return context.debugDescription
    }
}
