import Logging

/// Builds one JSON object as text, escaping strings per RFC 8259.
struct JSONObjectWriter {
    private var text = "{"
    private var empty = true

    /// Appends `"key":"string"`.
    mutating func append(key: String, string: String) {
        separate(key)
        Self.appendString(string, to: &text)
    }

    /// Appends `"key":value`, a metadata value as a string, an array or an object.
    mutating func append(key: String, value: Logger.MetadataValue) {
        separate(key)
        Self.appendValue(value, to: &text)
    }

    /// The object's text, closed.
    func finished() -> String { text + "}" }

    private mutating func separate(_ key: String) {
        if !empty { text += "," }
        empty = false
        Self.appendString(key, to: &text)
        text += ":"
    }

    static func appendValue(_ value: Logger.MetadataValue, to text: inout String) {
        switch value {
        case .string(let string): appendString(string, to: &text)
        case .stringConvertible(let convertible): appendString(convertible.description, to: &text)
        case .array(let values):
            text += "["
            for (index, element) in values.enumerated() {
                if index > 0 { text += "," }
                appendValue(element, to: &text)
            }
            text += "]"
        case .dictionary(let dictionary):
            text += "{"
            for (index, (key, element)) in dictionary.sorted(by: { $0.key < $1.key }).enumerated() {
                if index > 0 { text += "," }
                appendString(key, to: &text)
                text += ":"
                appendValue(element, to: &text)
            }
            text += "}"
        }
    }

    /// Appends `string` quoted: `"` and `\` escaped, control characters as `\n`, `\t`… or
    /// `\u00XX`, U+2028 and U+2029 escaped (JavaScript readers break lines there); all other
    /// Unicode passes through as UTF-8.
    static func appendString(_ string: String, to text: inout String) {
        text += "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case "\u{08}": text += "\\b"
            case "\u{0C}": text += "\\f"
            case "\u{2028}", "\u{2029}": text += "\\u" + hex4(scalar.value)
            case _ where scalar.value < 0x20 || scalar.value == 0x7F: text += "\\u" + hex4(scalar.value)
            default: text.unicodeScalars.append(scalar)
            }
        }
        text += "\""
    }

    private static func hex4(_ value: UInt32) -> String {
        let digits = String(value, radix: 16, uppercase: false)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
