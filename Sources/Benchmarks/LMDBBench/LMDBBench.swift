import ArgumentParser
import CLMDB
import Foundation
import LMDB
import P2PCore
import RaftStorage

/// Measures synced single-record commits/s and batched records/s through the `LMDB` module, next
/// to the same work done with direct C calls in the same run, so that the wrapper's cost is a ratio.
@main
struct LMDBBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lmdb-bench",
        abstract: "LMDB commit throughput: the Swift layer next to raw C calls.",
        discussion: "Example: Scripts/bench-lmdb --commits 5000 --directory /tmp",
        version: P2PCoreVersion.current
    )

    @Option(help: "Synced single-record commits to time.")
    var commits = 5000

    @Option(help: "Records per batch for the batched figures (repeatable).")
    var batch: [Int] = [100, 1000, 10_000]

    @Option(help: "Records written per batched measurement.")
    var batchedRecords = 200_000

    @Option(help: "Value size in bytes.")
    var valueSize = 256

    @Option(help: "Parent directory for the temporary databases (a real disk, not tmpfs, for honest syncs).")
    var directory = FileManager.default.temporaryDirectory.path

    func run() throws {
        let value = [UInt8](repeating: 0x5A, count: valueSize)
        print("lmdb-bench: \(valueSize)-byte values, sync on commit, in \(directory)")

        let swiftRate = try withScratch { path in try swiftSyncedCommits(path: path, value: value) }
        let cRate = try withScratch { path in try cSyncedCommits(path: path, value: value) }
        print(String(format: "synced single-record commits/s  swift %8.0f   C %8.0f   swift/C %.2f", swiftRate, cRate, swiftRate / cRate))

        for size in batch {
            let rate = try withScratch { path in try swiftBatched(path: path, value: value, perTransaction: size) }
            print(String(format: "batched %6d records/txn  swift %10.0f records/s", size, rate))
        }

        for size in [1, 16, 256] {
            let rate = try withScratch { path in try raftLogGroupCommit(path: path, value: value, entriesPerBatch: size) }
            print(String(format: "raft log: %3d entries + hard state per synced batch  %9.0f entries/s", size, rate))
        }
    }

    /// Raft-style persistence: each batch appends entries and rewrites the hard state, synced.
    private func raftLogGroupCommit(path: String, value: [UInt8], entriesPerBatch: Int) throws -> Double {
        let env = try Environment(path: path)
        defer { env.close() }
        let store = try RaftLogStore(environment: env)
        let total = max(commits, entriesPerBatch * 200)
        var index: UInt64 = 1
        let start = ContinuousClock.now
        while index <= UInt64(total) {
            let entries = (0..<entriesPerBatch).map { offset in
                RaftLogStore.StoredEntry(index: index + UInt64(offset), term: 1, bytes: value)
            }
            try store.persist(.init(entries: entries, hardState: index.bigEndianBytes))
            index += UInt64(entriesPerBatch)
        }
        return Double(index - 1) / seconds(ContinuousClock.now - start)
    }

    private func withScratch<R>(_ body: (String) throws -> R) throws -> R {
        let path = directory + "/lmdb-bench-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try body(path)
    }

    private func swiftSyncedCommits(path: String, value: [UInt8]) throws -> Double {
        let env = try Environment(path: path)
        defer { env.close() }
        let db = try env.openDatabase("bench")
        let start = ContinuousClock.now
        for i in 0..<commits {
            try env.write { try $0.put(db, UInt64(i).bigEndianBytes, value) }
        }
        return Double(commits) / seconds(ContinuousClock.now - start)
    }

    private func swiftBatched(path: String, value: [UInt8], perTransaction: Int) throws -> Double {
        let env = try Environment(path: path)
        defer { env.close() }
        let db = try env.openDatabase("bench")
        let start = ContinuousClock.now
        var written = 0
        while written < batchedRecords {
            try env.write { txn in
                for i in written..<min(written + perTransaction, batchedRecords) {
                    try txn.put(db, UInt64(i).bigEndianBytes, value)
                }
            }
            written += perTransaction
        }
        return Double(batchedRecords) / seconds(ContinuousClock.now - start)
    }

    /// The same synced commits, straight through liblmdb's C API.
    private func cSyncedCommits(path: String, value: [UInt8]) throws -> Double {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        var envPointer: OpaquePointer?
        guard mdb_env_create(&envPointer) == 0, let env = envPointer else { throw ValidationError("mdb_env_create failed") }
        defer { mdb_env_close(env) }
        mdb_env_set_maxdbs(env, 4)
        mdb_env_set_mapsize(env, 64 << 20)
        guard mdb_env_open(env, path, UInt32(MDB_NOTLS), 0o600) == 0 else { throw ValidationError("mdb_env_open failed") }
        var dbi: MDB_dbi = 0
        var txn: OpaquePointer?
        mdb_txn_begin(env, nil, 0, &txn)
        mdb_dbi_open(txn, "bench", UInt32(MDB_CREATE), &dbi)
        mdb_txn_commit(txn)
        var mutableValue = value
        let start = ContinuousClock.now
        for i in 0..<commits {
            var key = UInt64(i).bigEndian
            mdb_txn_begin(env, nil, 0, &txn)
            let rc = withUnsafeMutableBytes(of: &key) { keyBytes in
                mutableValue.withUnsafeMutableBytes { valueBytes in
                    var k = MDB_val(mv_size: keyBytes.count, mv_data: keyBytes.baseAddress)
                    var v = MDB_val(mv_size: valueBytes.count, mv_data: valueBytes.baseAddress)
                    return mdb_put(txn, dbi, &k, &v, 0)
                }
            }
            guard rc == 0, mdb_txn_commit(txn) == 0 else { throw ValidationError("C commit failed: \(rc)") }
        }
        return Double(commits) / seconds(ContinuousClock.now - start)
    }

    private func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}
