import Foundation
import P2PCore
import Synchronization

/// What the multi-LAN clients reported: send results, receipts and direct paths.
final class MultiLANLog: Sendable {
    private struct State {
        var ids: [NodeID] = []
        var nextTag: UInt64 = 0
        /// Tag → sending client, while its result is outstanding.
        var outstanding: [UInt64: Int] = [:]
        var results: [UInt64: String] = [:]
        var sent: [Int: Int] = [:]
        /// Per (sender, recipient): the sequence numbers received, in order of arrival.
        var received: [String: [UInt64]] = [:]
        /// Per (sender, recipient): the sequence numbers of successful sends.
        var accepted: [String: Set<UInt64>] = [:]
        var senderOfTag: [UInt64: (from: Int, to: NodeID?)] = [:]
        var pathsAnswers: [Int: Int] = [:]
        var paths: [Int: [NodeID: String]] = [:]
    }

    private let state = Mutex(State())

    func setIDs(_ ids: [NodeID]) { state.withLock { $0.ids = ids } }

    func nextTag() -> UInt64 {
        state.withLock { state in
            state.nextTag += 1
            return state.nextTag
        }
    }

    func willSend(client: Int, tag: UInt64, to recipient: NodeID) {
        state.withLock { state in
            state.outstanding[tag] = client
            state.senderOfTag[tag] = (client, recipient)
        }
    }

    func outstanding(client: Int) -> Int { state.withLock { $0.outstanding.values.filter { $0 == client }.count } }
    func sentCount(client: Int) -> Int { state.withLock { $0.sent[client] ?? 0 } }
    func result(of tag: UInt64) -> String? { state.withLock { $0.results[tag] } }
    func pathsAnswers(client: Int) -> Int { state.withLock { $0.pathsAnswers[client] ?? 0 } }
    func latestPaths(client: Int) -> [NodeID: String] { state.withLock { $0.paths[client] ?? [:] } }

    /// One output line of client `client`.
    func record(client: Int, _ line: String) {
        let words = line.split(separator: " ").map(String.init)
        state.withLock { state in
            switch words.first {
            case "sent" where words.count >= 3:
                guard let tag = UInt64(words[1]) else { return }
                state.outstanding[tag] = nil
                state.results[tag] = words[2]
                state.sent[client, default: 0] += 1
                if words[2] == "ok", words.count >= 4, let sequence = UInt64(words[3]),
                   let recipient = state.senderOfTag[tag]?.to, client < state.ids.count {
                    state.accepted["\(state.ids[client])>\(recipient)", default: []].insert(sequence)
                }
            case "recv" where words.count >= 3:
                guard let sequence = UInt64(words[2]), client < state.ids.count else { return }
                state.received["\(words[1])>\(state.ids[client])", default: []].append(sequence)
            case "paths":
                var paths: [NodeID: String] = [:]
                for word in words.dropFirst() {
                    let parts = word.split(separator: "=").map(String.init)
                    if parts.count == 2, let peer = NodeID(uuidString: parts[0]) { paths[peer] = parts[1] }
                }
                state.paths[client] = paths
                state.pathsAnswers[client, default: 0] += 1
            default:
                return
            }
        }
    }

    /// Every pair received each accepted message exactly once, in sequence order.
    func check() -> (received: Int, lost: Int, duplicated: Int, reordered: Int, violations: [String]) {
        state.withLock { state in
            var received = 0, lost = 0, duplicated = 0, reordered = 0
            var violations: [String] = []
            for pair in Set(state.received.keys).union(state.accepted.keys).sorted() {
                let sequences = state.received[pair] ?? []
                received += sequences.count
                let unique = Set(sequences)
                duplicated += sequences.count - unique.count
                reordered += zip(sequences, sequences.dropFirst()).filter { $0.0 >= $0.1 }.count
                let missing = (state.accepted[pair] ?? []).subtracting(unique)
                lost += missing.count
                if !missing.isEmpty { violations.append("\(pair): \(missing.count) accepted messages never received (first \(missing.min() ?? 0))") }
                if let highest = unique.max(), unique.count != Int(highest) {
                    violations.append("\(pair): received sequences are not 1…\(highest) without gaps")
                }
            }
            if duplicated > 0 { violations.append("\(duplicated) messages received more than once") }
            if reordered > 0 { violations.append("\(reordered) messages received out of order") }
            return (received, lost, duplicated, reordered, violations)
        }
    }
}
