import Glibc

/// Hands the free memory at the top of glibc's malloc heaps and arenas back to the system
/// (`malloc_trim(0)`).
///
/// glibc returns freed memory to the system only from the top of a heap, and only past a
/// threshold; after a burst (a drain pushing a million messages), hundreds of MiB of freed
/// chunks stay resident in its arenas (measured: `malloc_trim` took a draining server from 450
/// to 323 MiB of anonymous memory). Looked up at run time: absent (another C library), nothing
/// is done.
enum HeapTrim {
    private typealias Trim = @convention(c) (Int) -> Int32

    private static let trimFunction: Trim? = {
        guard let process = dlopen(nil, RTLD_NOW), let symbol = dlsym(process, "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: Trim.self)
    }()

    /// Trims the heaps; `true` when memory was given back.
    @discardableResult
    static func trim() -> Bool {
        guard let trimFunction else { return false }
        return trimFunction(0) != 0
    }
}
