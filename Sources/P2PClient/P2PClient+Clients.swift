import ClientProtocol
import MessageModel
import P2PCore

/// One page of the clients the cluster knows (``P2PClient/P2PClient/clientPage(after:limit:)``).
public struct ClientPage: Equatable, Sendable {
    /// Client ids in ascending order (this client's own included; the servers' own endpoints
    /// are left out).
    public let clients: [NodeID]
    /// Where the next page starts (pass it as `after:`), or `nil` when this is the last page.
    public let next: NodeID?

    public init(clients: [NodeID], next: NodeID?) {
        self.clients = clients
        self.next = next
    }
}

extension P2PClient {
    /// The most clients one page holds: servers answer at most this many, whatever is asked.
    public static let maximumClientsPerPage = ClientRequest.maximumClientsPerPage

    /// One page of the clients the cluster knows, online or not, ordered by id: those after
    /// `after` (from the first when `nil`), at most `limit` (servers cap it at
    /// ``maximumClientsPerPage``). Pass the page's ``ClientPage/next`` to get the following one.
    ///
    /// Pages are read from one server's replica at a time, so a walk over all pages sees each
    /// client registered before it started; clients registered meanwhile may or may not appear.
    /// Throws ``SendError/noReachableServer`` when no connected server answers.
    public func clientPage(after: NodeID? = nil, limit: Int = P2PClient.maximumClientsPerPage) async throws -> ClientPage {
        let asked = UInt32(clamping: max(1, min(limit, Self.maximumClientsPerPage)))
        guard case .clientPage(let records, let more) = try await engine.query(.clientPage(after: after, limit: asked)) else {
            throw SendError.noReachableServer
        }
        let ids = records.map(\.id)
        // A page that names no id cannot move the cursor: stop rather than ask for it forever.
        return ClientPage(clients: ids, next: more ? ids.last : nil)
    }

    /// Every client the cluster knows, page by page (``clientPage(after:limit:)``), as an
    /// asynchronous sequence: only one page is held at a time.
    ///
    ///     for try await peer in client.allClients() { print(peer) }
    public func allClients(pageSize: Int = P2PClient.maximumClientsPerPage) -> AllClients {
        AllClients(client: self, pageSize: pageSize)
    }

    /// Every other client the cluster knows (all pages): those this client has a direct path to
    /// right now, and those its messages reach through the relay.
    public func clients() async throws -> (direct: [NodeID], notDirect: [NodeID]) {
        let direct = Set(await engine.direct?.peers ?? [])
        var others: [NodeID] = []
        for try await peer in allClients() where peer != id { others.append(peer) }
        return (others.filter(direct.contains), others.filter { !direct.contains($0) })
    }
}

/// The clients the cluster knows, in id order, fetched a page at a time
/// (``P2PClient/P2PClient/allClients(pageSize:)``). Iterating throws what
/// ``P2PClient/P2PClient/clientPage(after:limit:)`` throws.
public struct AllClients: AsyncSequence, Sendable {
    public typealias Element = NodeID
    let client: P2PClient
    let pageSize: Int

    public func makeAsyncIterator() -> Iterator { Iterator(client: client, pageSize: pageSize) }

    public struct Iterator: AsyncIteratorProtocol {
        let client: P2PClient
        let pageSize: Int
        private var page: [NodeID] = []
        private var index = 0
        /// Where the next page starts; `.some(nil)` before the first page, `nil` after the last.
        private var cursor: NodeID?? = .some(nil)

        init(client: P2PClient, pageSize: Int) {
            self.client = client
            self.pageSize = pageSize
        }

        public mutating func next() async throws -> NodeID? {
            while index == page.count {
                guard case .some(let after) = cursor else { return nil }
                let fetched = try await client.clientPage(after: after, limit: pageSize)
                page = fetched.clients
                index = 0
                cursor = fetched.next.map { .some($0) } ?? nil
            }
            defer { index += 1 }
            return page[index]
        }
    }
}
