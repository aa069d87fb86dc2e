import Foundation

/// The reference C implementation as a child process (`Scripts/kcp-peer.py`, PyPI `kcp` 0.1.6
/// around ikcp.c), stepped in lock step through framed stdin/stdout.
final class KCPPeer {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// What the peer did during one step.
    struct Step {
        var messages: [[UInt8]] = []
        var datagrams: [[UInt8]] = []
        var rejections: [String] = []
    }

    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Whether the peer can run; runs `Scripts/ensure-kcp-peer`, which installs PyPI `kcp` when
    /// missing and says on stderr why it cannot. `PYTHON` picks the interpreter (default python3).
    static let isAvailable: Bool = {
        let script = packageRoot.appendingPathComponent("Scripts/ensure-kcp-peer")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [script.path]
        do {
            try process.run()
            process.waitUntilExit()
        } catch {
            FileHandle.standardError.write(Data("KCP interop skipped: cannot run \(script.path): \(error)\n".utf8))
            return false
        }
        if process.terminationStatus != 0 {
            FileHandle.standardError.write(Data("KCP interop skipped: Scripts/ensure-kcp-peer failed (see above)\n".utf8))
        }
        return process.terminationStatus == 0
    }()

    private let process = Process()
    private let input: FileHandle
    private let output: FileHandle

    /// Starts a peer configured like `ikcp_nodelay(nodelay, interval, resend, nocwnd)`,
    /// `ikcp_setmtu` and `ikcp_wndsize`.
    init(
        conversation: UInt32, noDelay: Int, interval: Int, resend: Int, noCongestionWindow: Bool,
        mtu: Int, sendWindow: Int, receiveWindow: Int
    ) throws {
        let stdin = Pipe()
        let stdout = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments =
            [ProcessInfo.processInfo.environment["PYTHON"] ?? "python3", Self.packageRoot.appendingPathComponent("Scripts/kcp-peer.py").path]
            + [conversation, noDelay, interval, resend, noCongestionWindow ? 1 : 0, mtu, sendWindow, receiveWindow]
            .map { "\($0)" }
        process.standardInput = stdin
        process.standardOutput = stdout
        try process.run()
        input = stdin.fileHandleForWriting
        output = stdout.fileHandleForReading
    }

    deinit {
        try? input.write(contentsOf: Self.frame("Q", []))
        try? input.close()
        process.waitUntilExit()
    }

    /// Hands the peer datagrams and messages to send, advances its clock to `now` and returns
    /// what it received and emitted.
    func step(datagrams: [[UInt8]], messages: [[UInt8]], now: UInt32) throws -> Step {
        var frames: [UInt8] = []
        for datagram in datagrams { frames += Self.frame("D", datagram) }
        for message in messages { frames += Self.frame("S", message) }
        frames += Self.frame("T", (0..<4).map { UInt8(truncatingIfNeeded: now >> (8 * $0)) })
        try input.write(contentsOf: frames)

        var step = Step()
        while true {
            let header = try read(5)
            let size = Int(header[1]) | Int(header[2]) << 8 | Int(header[3]) << 16 | Int(header[4]) << 24
            let payload = try read(size)
            switch header[0] {
            case UInt8(ascii: "M"): step.messages.append(payload)
            case UInt8(ascii: "D"): step.datagrams.append(payload)
            case UInt8(ascii: "R"): step.rejections.append(String(decoding: payload, as: UTF8.self))
            case UInt8(ascii: "E"): return step
            default: throw Failure(description: "unknown frame type \(header[0]) from kcp-peer.py")
            }
        }
    }

    private func read(_ count: Int) throws -> [UInt8] {
        var bytes: [UInt8] = []
        while bytes.count < count {
            guard let chunk = try output.read(upToCount: count - bytes.count), !chunk.isEmpty else {
                throw Failure(description: "kcp-peer.py closed its output (crashed? see its stderr)")
            }
            bytes += chunk
        }
        return bytes
    }

    private static func frame(_ type: Unicode.Scalar, _ payload: [UInt8]) -> [UInt8] {
        let size = UInt32(payload.count)
        return [UInt8(ascii: type)] + (0..<4).map { UInt8(truncatingIfNeeded: size >> (8 * $0)) } + payload
    }
}
