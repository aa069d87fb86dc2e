#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A point in wall-clock time (seconds and nanoseconds since the Unix epoch), for log timestamps.
public struct WallClockTime: Sendable, Equatable {
    /// Whole seconds since 1970-01-01T00:00:00Z.
    public var seconds: Int
    /// Nanoseconds past ``seconds`` (0 ..< 1_000_000_000).
    public var nanoseconds: Int

    public init(seconds: Int, nanoseconds: Int) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }

    /// The system's real-time clock now.
    @Sendable public static func now() -> WallClockTime {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return WallClockTime(seconds: Int(spec.tv_sec), nanoseconds: Int(spec.tv_nsec))
    }

    /// ISO 8601 in UTC with milliseconds: `2026-05-01T12:34:56.789Z`.
    public var iso8601: String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        let date = "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))"
        let clock = "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))"
        return "\(date)T\(clock).\(pad(Int32(nanoseconds / 1_000_000), 3))Z"
    }
}
