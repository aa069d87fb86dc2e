import Foundation
import LogFormats
import Logging
import Synchronization
import Testing

/// Collects the lines a handler writes.
private final class Lines: Sendable {
    private let lines = Mutex<[String]>([])
    var all: [String] { lines.withLock { $0 } }
    func append(_ line: String) { lines.withLock { $0.append(line) } }
}

@Suite struct JSONLogHandlerTests {
    private static let fixedTime = WallClockTime(seconds: 1_777_000_000, nanoseconds: 123_456_789)

    private func logger(_ lines: Lines, label: String = "p2pcore.test") -> Logger {
        Logger(label: label) { label in
            var handler = JSONLogHandler(label: label, clock: { Self.fixedTime }, output: lines.append)
            handler.logLevel = .trace
            return handler
        }
    }

    /// The one line written, parsed back with Foundation's JSON parser.
    private func parsed(_ lines: Lines) throws -> [String: Any] {
        let all = lines.all
        try #require(all.count == 1)
        let line = all[0]
        #expect(line.hasSuffix("\n"))
        #expect(line.dropLast().contains("\n") == false, "one object per line")
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8))
        return try #require(object as? [String: Any])
    }

    @Test func writesTheFixedFieldsAndFlattenedMetadata() throws {
        let lines = Lines()
        var log = logger(lines)
        log[metadataKey: "node"] = "n1"
        log.warning("peer lost", metadata: ["peer": ["id": "n2", "address": "10.0.0.2:7400"], "attempts": "3", "links": .array(["a", "b"])])
        let object = try parsed(lines)
        #expect(object["timestamp"] as? String == "2026-04-24T03:06:40.123Z")
        #expect(object["level"] as? String == "warning")
        #expect(object["label"] as? String == "p2pcore.test")
        #expect(object["message"] as? String == "peer lost")
        #expect(object["source"] as? String == "LogFormatsTests")
        #expect(object["node"] as? String == "n1")
        #expect(object["peer.id"] as? String == "n2")
        #expect(object["peer.address"] as? String == "10.0.0.2:7400")
        #expect(object["attempts"] as? String == "3")
        #expect(object["links"] as? [String] == ["a", "b"])
    }

    @Test func escapesQuotesBackslashesNewlinesAndControlCharacters() throws {
        let lines = Lines()
        let nasty = "say \"hi\"\\ \n line2\r\t tab \u{0} nul \u{1} \u{1F} \u{7F} \u{08}\u{0C} \u{2028}\u{2029} end"
        logger(lines).info("\(nasty)", metadata: [nasty: .string(nasty)])
        let raw = lines.all[0]
        for control in (0..<0x20).map({ Character(Unicode.Scalar(UInt8($0))) }) where control != "\n" {
            #expect(!raw.contains(control), "raw control character \(control.unicodeScalars.first?.value ?? 0) in output")
        }
        #expect(!raw.contains("\u{2028}") && !raw.contains("\u{2029}"))
        #expect(raw.contains(#"say \"hi\"\\ \n line2\r\t tab \u0000 nul \u0001 \u001f \u007f \b\f \u2028\u2029 end"#))
        let object = try parsed(lines)
        #expect(object["message"] as? String == nasty)
        #expect(object[nasty] as? String == nasty)
    }

    @Test func passesUnicodeThroughUnescaped() throws {
        let lines = Lines()
        let text = "Grüße, 世界 👋🏽 e\u{301}"
        logger(lines).info("\(text)")
        #expect(lines.all[0].contains(text))
        #expect(try parsed(lines)["message"] as? String == text)
    }

    @Test func metadataThatCollidesWithAFixedFieldIsRenamed() throws {
        let lines = Lines()
        logger(lines).info("real", metadata: ["message": "fake", "level": "fake"])
        let object = try parsed(lines)
        #expect(object["message"] as? String == "real")
        #expect(object["level"] as? String == "info")
        #expect(object["metadata.message"] as? String == "fake")
        #expect(object["metadata.level"] as? String == "fake")
    }

    @Test func eventMetadataOverridesProviderAndHandlerMetadata() throws {
        let lines = Lines()
        let provider = Logger.MetadataProvider { ["request": "from-provider", "trace": "t1"] }
        var log = Logger(label: "p") { label in
            JSONLogHandler(label: label, metadataProvider: provider, clock: { Self.fixedTime }, output: lines.append)
        }
        log[metadataKey: "request"] = "from-handler"
        log.info("x", metadata: ["request": "from-event"])
        let object = try parsed(lines)
        #expect(object["request"] as? String == "from-event")
        #expect(object["trace"] as? String == "t1")
    }

    @Test func levelsBelowTheHandlersLevelAreDropped() {
        let lines = Lines()
        let log = Logger(label: "p") { label in
            JSONLogHandler(label: label, clock: { Self.fixedTime }, output: lines.append)
        }
        log.debug("hidden")
        log.info("shown")
        #expect(lines.all.count == 1)
    }

    @Test func timestampsAreISO8601UTCWithMilliseconds() {
        #expect(WallClockTime(seconds: 0, nanoseconds: 0).iso8601 == "1970-01-01T00:00:00.000Z")
        #expect(WallClockTime(seconds: 951_782_400, nanoseconds: 999_999_999).iso8601 == "2000-02-29T00:00:00.999Z")
        #expect(WallClockTime.now().seconds > 1_700_000_000)
    }
}
