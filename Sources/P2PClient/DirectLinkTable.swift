import Delivery
import Transport

/// Names the direct links messages came on (``DirectLinkID``), so that an acknowledgement goes
/// back on the very link its message came by. Holds the links weakly: a closed link that was
/// dropped is forgotten.
struct DirectLinkTable {
    private final class Entry {
        let id: DirectLinkID
        weak var link: Link?

        init(id: DirectLinkID, link: Link) {
            self.id = id
            self.link = link
        }
    }

    private var byLink: [ObjectIdentifier: Entry] = [:]
    private var byID: [DirectLinkID: Entry] = [:]
    private var next: UInt64 = 1
    private var pruneAt = 64

    mutating func id(for link: Link) -> DirectLinkID {
        if let entry = byLink[ObjectIdentifier(link)], entry.link === link { return entry.id }
        let entry = Entry(id: DirectLinkID(next), link: link)
        next += 1
        byLink[ObjectIdentifier(link)] = entry
        byID[entry.id] = entry
        if byID.count >= pruneAt { prune() }
        return entry.id
    }

    func link(_ id: DirectLinkID) -> Link? { byID[id]?.link }

    private mutating func prune() {
        byID = byID.filter { $0.value.link != nil }
        byLink = byLink.filter { $0.value.link != nil }
        pruneAt = max(64, byID.count * 2)
    }
}
