import Foundation

/// A small parser of the Prometheus text exposition format (0.0.4), strict enough to catch a
/// malformed `/metrics`: `# HELP` and `# TYPE` lines, and samples `name{label="value",…} value`
/// whose family was declared.
struct PrometheusText {
    struct Sample: Equatable {
        let name: String
        let labels: [String: String]
        let value: Double
    }

    struct Malformed: Error, CustomStringConvertible {
        let line: String
        let why: String
        var description: String { "malformed metrics line (\(why)): \(line)" }
    }

    private(set) var types: [String: String] = [:]
    private(set) var help: [String: String] = [:]
    private(set) var samples: [Sample] = []

    init(parsing text: String) throws {
        for line in text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init) {
            if line.hasPrefix("# HELP ") {
                let rest = line.dropFirst(7)
                guard let space = rest.firstIndex(of: " ") else { throw Malformed(line: line, why: "HELP without text") }
                help[String(rest[..<space])] = String(rest[rest.index(after: space)...])
            } else if line.hasPrefix("# TYPE ") {
                let parts = line.dropFirst(7).split(separator: " ")
                guard parts.count == 2, ["counter", "gauge", "histogram", "summary", "untyped"].contains(parts[1]) else {
                    throw Malformed(line: line, why: "bad TYPE")
                }
                types[String(parts[0])] = String(parts[1])
            } else if line.hasPrefix("#") {
                continue
            } else {
                let sample = try Self.sample(line)
                guard types[Self.family(of: sample.name)] != nil else { throw Malformed(line: line, why: "sample before its TYPE") }
                samples.append(sample)
            }
        }
    }

    /// The family a sample belongs to (histograms add `_bucket`, `_sum`, `_count`).
    static func family(of name: String) -> String {
        for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) { return String(name.dropLast(suffix.count)) }
        return name
    }

    private static func sample(_ line: String) throws -> Sample {
        var name = ""
        var labels: [String: String] = [:]
        var index = line.startIndex
        while index < line.endIndex, line[index] != "{", line[index] != " " { name.append(line[index]); index = line.index(after: index) }
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == ":" }) else { throw Malformed(line: line, why: "bad name") }
        if index < line.endIndex, line[index] == "{" {
            index = line.index(after: index)
            while index < line.endIndex, line[index] != "}" {
                guard let equals = line[index...].firstIndex(of: "=") else { throw Malformed(line: line, why: "label without =") }
                let key = String(line[index..<equals]).trimmingCharacters(in: [","])
                var cursor = line.index(after: equals)
                guard cursor < line.endIndex, line[cursor] == "\"" else { throw Malformed(line: line, why: "unquoted label value") }
                cursor = line.index(after: cursor)
                var value = ""
                while cursor < line.endIndex, line[cursor] != "\"" {
                    if line[cursor] == "\\" { cursor = line.index(after: cursor) }
                    guard cursor < line.endIndex else { break }
                    value.append(line[cursor])
                    cursor = line.index(after: cursor)
                }
                guard cursor < line.endIndex else { throw Malformed(line: line, why: "unterminated label value") }
                labels[key] = value
                index = line.index(after: cursor)
                if index < line.endIndex, line[index] == "," { index = line.index(after: index) }
            }
            guard index < line.endIndex else { throw Malformed(line: line, why: "unterminated labels") }
            index = line.index(after: index)
        }
        let rest = line[index...].split(separator: " ")
        guard let first = rest.first, let value = Double(first == "+Inf" ? "inf" : String(first)) else { throw Malformed(line: line, why: "bad value") }
        return Sample(name: name, labels: labels, value: value)
    }

    /// The value of `name` with exactly `labels` (`nil`: no such sample).
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        samples.first { $0.name == name && $0.labels == labels }?.value
    }
}
