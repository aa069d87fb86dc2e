/// The result of one attack: refused (the cluster held) or vulnerable (it did not).
struct AttackOutcome: Sendable {
    let name: String
    let refused: Bool
    /// How it was refused, or what got through.
    let detail: String

    static func refused(_ name: String, _ how: String) -> AttackOutcome {
        AttackOutcome(name: name, refused: true, detail: how)
    }

    static func vulnerable(_ name: String, _ what: String) -> AttackOutcome {
        AttackOutcome(name: name, refused: false, detail: what)
    }

    /// `attack <name>: refused (<how>)` or `attack <name>: VULNERABLE (<what>)`.
    var line: String {
        "attack \(name): " + (refused ? "refused (\(detail))" : "VULNERABLE (\(detail))")
    }
}
