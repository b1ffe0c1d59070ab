/// Masks secrets for display: `abcdefgh1234` → `ab…34`.
///
/// Short secrets are masked entirely so the visible part never reveals most of the value.
public enum SecretMask {
    public static func mask(_ secret: String) -> String {
        let characters = Array(secret)
        guard characters.count >= 10 else { return "…" }
        return String(characters.prefix(2)) + "…" + String(characters.suffix(2))
    }
}
