/// The version of p2pcore, shared by the libraries and every executable's `--version`.
public enum P2PCoreVersion {
    /// The current release, semantic versioning (`major.minor.patch`).
    public static let current = "0.6.0"
}
