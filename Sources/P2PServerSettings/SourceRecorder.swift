import Configuration
import Synchronization

/// Notes which provider answered each lookup: a `ConfigReader` asks its providers in order and
/// stops at the first value or error, so the answering provider is the last one asked.
final class SourceRecorder: AccessReporter {
    private let answered = Mutex<[String: Int]>([:])

    func report(_ event: AccessEvent) {
        let key = event.metadata.key.components.joined(separator: ".")
        let results = event.providerResults
        let found: Bool
        switch results.last?.result {
        case .success(let lookup): found = lookup.value != nil
        case .failure: found = true
        case nil: found = false
        }
        answered.withLock { $0[key] = found ? results.count - 1 : nil }
    }

    /// The index of the provider that answered the last lookup of `key`, `nil` if none had it.
    func provider(of key: SettingKey) -> Int? {
        answered.withLock { $0[key.name] }
    }
}
