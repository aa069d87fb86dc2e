import Logging

/// How an executable writes its log lines.
public enum LogFormat: String, Sendable, CaseIterable, CustomStringConvertible {
    /// swift-log's `StreamLogHandler` lines, for people.
    case text
    /// One JSON object per line (``JSONLogHandler``), for log collectors.
    case json

    public var description: String { rawValue }

    /// A standard-error handler of this format for `label`, at `level`.
    public func handler(label: String, level: Logger.Level) -> any LogHandler {
        switch self {
        case .text:
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        case .json:
            var handler = JSONLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }

    /// Bootstraps the process-wide logging system with this format at `level` (once per process).
    public func bootstrap(level: Logger.Level) {
        LoggingSystem.bootstrap { label in handler(label: label, level: level) }
    }
}
