#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a ``Journal`` operation failed.
public struct JournalError: Error, Equatable, CustomStringConvertible {
    /// The journal's file.
    public let path: String
    /// What was being done (`open`, `write`, `sync`, …).
    public let operation: String
    /// The system's error number (`errno`), 0 when the failure is not the system's.
    public let code: Int32

    public var description: String {
        code == 0 ? "journal \(path): \(operation)" : "journal \(path): \(operation) failed: \(String(cString: strerror(code)))"
    }
}
