import AdminProtocol
import Mailbox
import MessageModel
import P2PCore
import Raft

/// Path diagnostics (`mailbox-admin path`): every server observes clients' UDP mappings and keeps
/// the pair reports clients send it; the server asked gathers both from every member, infers each
/// client's NAT and says why a pair is or is not direct (``PathInference``).
extension AdminService {
    /// How long a member gets to answer for its path facts.
    static let pathFactsTimeout: Duration = .seconds(2)

    /// This server's own observations and stored reports about `clients` (all when `nil`).
    func localPathFacts(clients: [NodeID]?) -> PathFacts {
        let wanted = clients.map(Set.init)
        let mappings = gateway.mappings.allWithAge.compactMap { client, observed -> MappingObservation? in
            guard wanted?.contains(client) ?? true else { return nil }
            return MappingObservation(client: client, server: id, mapping: observed.mapping, ageSeconds: Self.seconds(observed.age))
        }
        return PathFacts(server: id, mappings: mappings.sorted { $0.client < $1.client }, reports: gateway.pathReports.reports(of: clients))
    }

    /// Every member's path facts (this server's own included), and the members that did not answer.
    func gatherPathFacts(clients: [NodeID]?, _ replica: ReplicatedMailboxes) async -> (facts: [PathFacts], unreachable: [NodeID]) {
        let members = await replica.membership.all
        var facts = [localPathFacts(clients: clients)]
        var unreachable: [NodeID] = []
        await withTaskGroup(of: (NodeID, PathFacts?).self) { group in
            for member in members where member != id {
                group.addTask {
                    guard case .pathFacts(let facts)? = try? await self.askServer(member, .pathFacts(clients: clients), timeout: Self.pathFactsTimeout),
                          facts.server == member
                    else { return (member, nil) }
                    return (member, facts)
                }
            }
            for await (member, answer) in group {
                if let answer { facts.append(answer) } else { unreachable.append(member) }
            }
        }
        return (facts, unreachable.sorted())
    }

    /// Why clients `a` and `b` are or are not direct.
    func pathDiagnosis(_ a: NodeID, _ b: NodeID, _ replica: ReplicatedMailboxes) async throws -> PairPathDiagnosis {
        guard a != b else { throw AdminFailure(.invalid, "a pair needs two different clients") }
        let records = [try requireClient(replica.mailboxes, a), try requireClient(replica.mailboxes, b)]
        let gathered = await gatherPathFacts(clients: [a, b], replica)
        let observations = gathered.facts.flatMap(\.mappings)
        let reports = gathered.facts.flatMap(\.reports)
        let nat = records.map { record in
            PathInference.natReport(client: record.id, observations: observations, lanAddresses: record.lanAddresses, online: record.isOnline)
        }
        return PathInference.diagnose(a: nat[0], b: nat[1], reports: reports)
    }

    /// Every client's inferred NAT and the newest report of every pair (gathered from every
    /// member when `gather`, else this server's own knowledge only).
    func pathOverview(gather: Bool, _ replica: ReplicatedMailboxes) async throws -> PathOverview {
        let records = try P2PServer.clientRecords(replica.mailboxes)
        let gathered: (facts: [PathFacts], unreachable: [NodeID])
        if gather {
            gathered = await gatherPathFacts(clients: nil, replica)
        } else {
            gathered = ([localPathFacts(clients: nil)], [])
        }
        let observations = gathered.facts.flatMap(\.mappings)
        let clients = records.map { record in
            PathInference.natReport(client: record.id, observations: observations, lanAddresses: record.lanAddresses, online: record.isOnline)
        }
        var newest: [String: PairPathReport] = [:]
        for report in gathered.facts.flatMap(\.reports) {
            let key = "\(report.reporter)>\(report.peer)"
            if (newest[key]?.reportedAtMillis ?? 0) <= report.reportedAtMillis { newest[key] = report }
        }
        let pairs = newest.values.sorted { ($0.reporter, $0.peer) < ($1.reporter, $1.peer) }
        return PathOverview(clients: clients, pairs: pairs, unreachableServers: gathered.unreachable)
    }

    static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
