import ArgumentParser
import Foundation

/// The exit codes (documented in `mailbox-admin --help` and the README).
enum AdminExit: Int32 {
    case ok = 0
    /// The cluster is unhealthy, could not do it now, or the operator declined.
    case notDone = 1
    case notFound = 2
    case unreachable = 3
    case unauthorized = 4
    /// ArgumentParser's own code for validation errors, used for invalid requests too.
    case badUsage = 64

    /// Prints `message` on standard error and returns the exit to throw.
    static func fail(_ code: AdminExit, _ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("mailbox-admin: \(message)\n".utf8))
        return ExitCode(code.rawValue)
    }
}
