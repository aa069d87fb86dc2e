/// Durations as operators write them: a non-negative number and a unit, `250ms`, `3s`, `1.5s`, `2m`, `1h`.
public enum DurationText {
    /// `text` as a duration, `nil` unless it is a number followed by `ms`, `s`, `m` or `h`.
    public static func parse(_ text: String) -> Duration? {
        let trimmed = text.trimmingSpaces()
        let units: [(suffix: String, milliseconds: Double)] = [("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000)]
        for unit in units where trimmed.hasSuffix(unit.suffix) {
            let number = trimmed.dropLast(unit.suffix.count)
            guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
                let value = Double(number), value.isFinite,
                // Beyond ~292,000 years a duration does not fit: no duration, rather than a trap.
                let microseconds = Int64(exactly: (value * unit.milliseconds * 1_000).rounded())
            else { continue }
            return .microseconds(microseconds)
        }
        return nil
    }

    /// `duration` written the way ``parse(_:)`` reads it: whole milliseconds, or whole seconds when exact.
    public static func format(_ duration: Duration) -> String {
        let milliseconds = duration.components.seconds * 1_000 + duration.components.attoseconds / 1_000_000_000_000_000
        return milliseconds % 1_000 == 0 ? "\(milliseconds / 1_000)s" : "\(milliseconds)ms"
    }
}

extension String {
    fileprivate func trimmingSpaces() -> Substring {
        var text = self[...]
        while text.first == " " { text = text.dropFirst() }
        while text.last == " " { text = text.dropLast() }
        return text
    }
}
