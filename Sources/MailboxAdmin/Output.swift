import Foundation

/// Prints `value` as pretty JSON (keys sorted, for stable output).
func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

/// Prints rows under `headers`, each column as wide as its widest cell.
func printTable(_ headers: [String], _ rows: [[String]]) {
    let widths = headers.indices.map { column in
        ([headers[column]] + rows.map { column < $0.count ? $0[column] : "" }).map(\.count).max() ?? 0
    }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { index, cell in
            index == cells.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
        }.joined(separator: "  ")
    }
    print(line(headers))
    for row in rows { print(line(row)) }
}

/// "4s", "12m", "3h", "2d" since `millis` (milliseconds since 1970).
func age(since millis: UInt64?) -> String {
    guard let millis else { return "-" }
    let seconds = max(0, Int(Date().timeIntervalSince1970) - Int(millis / 1000))
    switch seconds {
    case ..<120: return "\(seconds)s"
    case ..<7200: return "\(seconds / 60)m"
    case ..<172_800: return "\(seconds / 3600)h"
    default: return "\(seconds / 86_400)d"
    }
}

/// Human-readable byte count.
func size(_ bytes: Int) -> String {
    switch bytes {
    case ..<1024: return "\(bytes) B"
    case ..<(1 << 20): return String(format: "%.1f KiB", Double(bytes) / 1024)
    default: return String(format: "%.1f MiB", Double(bytes) / Double(1 << 20))
    }
}

/// Asks "question [y/N]" on the terminal; anything but y/yes (or end of input) declines.
func confirm(_ question: String) -> Bool {
    print("\(question) [y/N] ", terminator: "")
    guard let answer = readLine()?.trimmingCharacters(in: .whitespaces).lowercased() else { return false }
    return answer == "y" || answer == "yes"
}
