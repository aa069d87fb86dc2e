import Configuration
import P2PCore

/// Reads settings through one swift-configuration `ConfigReader` over the layered providers,
/// turning lookup failures into ``SettingsError`` values that name where the bad value is.
struct SettingsReader {
    private let reader: ConfigReader
    private let recorder: SourceRecorder
    /// The source of each provider, in the reader's order.
    private let sources: [SettingSource]
    /// Where each setting came from, by the last read of each.
    var origins: [SettingKey: SettingSource] {
        Dictionary(uniqueKeysWithValues: SettingKey.all.map { ($0, source(of: $0)) })
    }

    init(providers: [(any ConfigProvider, SettingSource)]) {
        let recorder = SourceRecorder()
        self.reader = ConfigReader(providers: providers.map(\.0), accessReporter: recorder)
        self.recorder = recorder
        self.sources = providers.map(\.1)
    }

    /// Where the value last read for `key` came from.
    func source(of key: SettingKey) -> SettingSource {
        recorder.provider(of: key).map { sources[$0] } ?? .defaultValue
    }

    func string(_ key: SettingKey) async throws(SettingsError) -> String? {
        try await read(key) { try await reader.fetchString(forKey: ConfigKey(key.name)) }
    }

    func strings(_ key: SettingKey) async throws(SettingsError) -> [String]? {
        try await read(key) { try await reader.fetchStringArray(forKey: ConfigKey(key.name)) }
    }

    func integer(_ key: SettingKey, atLeast minimum: Int) async throws(SettingsError) -> Int? {
        guard let value = try await read(key, { try await reader.fetchInt(forKey: ConfigKey(key.name)) }) else { return nil }
        guard value >= minimum else { throw invalid(key, "\(value)", "must be at least \(minimum)") }
        return value
    }

    func number(_ key: SettingKey) async throws(SettingsError) -> Double? {
        guard let value = try await read(key, { try await reader.fetchDouble(forKey: ConfigKey(key.name)) }) else { return nil }
        guard value.isFinite, value > 0 else { throw invalid(key, "\(value)", "must be a positive number") }
        return value
    }

    func boolean(_ key: SettingKey) async throws(SettingsError) -> Bool? {
        try await read(key) { try await reader.fetchBool(forKey: ConfigKey(key.name)) }
    }

    func duration(_ key: SettingKey) async throws(SettingsError) -> Duration? {
        guard let text = try await string(key) else { return nil }
        guard let duration = DurationText.parse(text), duration > .zero else {
            throw invalid(key, text, "expected a positive duration such as 250ms, 3s or 2m")
        }
        return duration
    }

    /// A duration of at most `maximum`.
    func duration(_ key: SettingKey, atMost maximum: Duration) async throws(SettingsError) -> Duration? {
        guard let duration = try await duration(key) else { return nil }
        guard duration <= maximum else {
            throw invalid(key, DurationText.format(duration), "must be at most \(DurationText.format(maximum))")
        }
        return duration
    }

    func address(_ key: SettingKey) async throws(SettingsError) -> HostPort? {
        guard let text = try await string(key) else { return nil }
        guard let address = HostPort(text), !address.host.isEmpty else { throw invalid(key, text, "expected host:port") }
        return address
    }

    /// `text` parsed by `parse`, or an error listing the accepted values.
    func choice<T>(_ key: SettingKey, _ text: String?, accepted: [String], _ parse: (String) -> T?) throws(SettingsError) -> T? {
        guard let text else { return nil }
        guard let value = parse(text) else { throw invalid(key, text, "expected one of " + accepted.joined(separator: ", ")) }
        return value
    }

    /// An invalid-value error located at the source of `key`'s last read.
    func invalid(_ key: SettingKey, _ value: String, _ reason: String) -> SettingsError {
        .invalidValue(key: key.name, location: source(of: key).locate(key), value: value, reason: reason)
    }

    private func read<T>(_ key: SettingKey, _ fetch: () async throws -> T?) async throws(SettingsError) -> T? {
        let value: T?
        do {
            value = try await fetch()
        } catch {
            throw .wrongType(key: key.name, location: source(of: key).locate(key), expected: key.kind.description)
        }
        return value
    }
}
