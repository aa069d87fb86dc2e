import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A swift-log `LogHandler` that writes one JSON object per line (JSON Lines), for log
/// collectors (journald, Loki, Elasticsearch, `jq`).
///
/// Every line holds `timestamp` (ISO 8601, UTC, milliseconds), `level`, `label`, `message` and
/// `source`, `error` when the event carries one, and then the metadata flattened into the same
/// object: a nested dictionary's keys are joined with `.` (`peer.id`), an array becomes a JSON
/// array. A metadata key that collides with one of the fixed fields is written as `metadata.<key>`.
///
/// Each line is handed to the output in one call, so lines from concurrent loggers never
/// interleave on a shared stream.
public struct JSONLogHandler: LogHandler {
    /// Where finished lines go; each call receives one complete line with its trailing newline.
    public typealias Output = @Sendable (String) -> Void

    /// The fields every line starts with, in this order.
    public static let fixedFields = ["timestamp", "level", "label", "message", "source", "error"]

    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?

    private let label: String
    private let output: Output
    private let clock: @Sendable () -> WallClockTime

    /// A handler for `label` writing lines to `output`; `clock` stamps each line (tests fix it).
    public init(
        label: String,
        metadataProvider: Logger.MetadataProvider? = nil,
        clock: @escaping @Sendable () -> WallClockTime = WallClockTime.now,
        output: @escaping Output
    ) {
        self.label = label
        self.metadataProvider = metadataProvider
        self.clock = clock
        self.output = output
    }

    /// A handler writing to standard error, as `StreamLogHandler.standardError` does.
    public static func standardError(label: String, metadataProvider: Logger.MetadataProvider? = nil) -> JSONLogHandler {
        JSONLogHandler(label: label, metadataProvider: metadataProvider) { line in
            var bytes = Array(line.utf8)[...]
            // One write(2) per line (a pipe takes up to PIPE_BUF bytes atomically); loop on short writes.
            while !bytes.isEmpty {
                let written = bytes.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
                if written > 0 {
                    bytes = bytes.dropFirst(written)
                } else if written < 0 && errno == EINTR {
                    continue
                } else {
                    return
                }
            }
        }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let own = event.metadata { merged.merge(own) { _, new in new } }
        output(line(for: event, metadata: merged, at: clock()))
    }

    /// The JSON line (with its newline) for `event`.
    func line(for event: LogEvent, metadata: Logger.Metadata, at time: WallClockTime) -> String {
        var object = JSONObjectWriter()
        object.append(key: "timestamp", string: time.iso8601)
        object.append(key: "level", string: event.level.rawValue)
        object.append(key: "label", string: label)
        object.append(key: "message", string: event.message.description)
        object.append(key: "source", string: event.source)
        if let error = event.error { object.append(key: "error", string: String(describing: error)) }
        for (key, value) in Self.flattened(metadata).sorted(by: { $0.key < $1.key }) {
            let name = Self.fixedFields.contains(key) ? "metadata." + key : key
            object.append(key: name, value: value)
        }
        return object.finished() + "\n"
    }

    /// `metadata` with nested dictionaries flattened into dotted keys.
    static func flattened(_ metadata: Logger.Metadata, prefix: String = "") -> [String: Logger.MetadataValue] {
        var result: [String: Logger.MetadataValue] = [:]
        for (key, value) in metadata {
            let name = prefix + key
            if case .dictionary(let nested) = value, !nested.isEmpty {
                result.merge(flattened(nested, prefix: name + ".")) { _, new in new }
            } else {
                result[name] = value
            }
        }
        return result
    }
}
