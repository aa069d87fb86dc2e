import Foundation

/// The process's limit on open files. A server holds one descriptor per client link (and per
/// server link, LMDB, sockets): the usual soft limit of 1,024 caps it far below its link cap, so
/// it raises its soft limit to the hard limit at start-up (which needs no privilege).
enum OpenFileLimit {
    /// Raises the soft limit to the hard one; returns the soft limit in effect.
    @discardableResult
    static func raiseToHardLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 0 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return Int(limit.rlim_cur)
    }
}
