/// The loopback address simulated client number `index` connects from: 127.a.b.c with a, b, c
/// in 1...250, a different one for each of the first 15 million clients. Every address of
/// 127.0.0.0/8 is local on Linux, so each client looks like its own host to the servers (whose
/// per-host caps then bind no more than for real clients on distinct machines), and each has
/// its own ephemeral port range.
public enum SourceAddress {
    public static func host(forClient index: Int) -> String {
        let a = 1 + (index / (250 * 250)) % 250
        let b = 1 + (index / 250) % 250
        let c = 1 + index % 250
        return "127.\(a).\(b).\(c)"
    }
}
