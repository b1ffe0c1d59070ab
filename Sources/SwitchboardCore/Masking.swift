import Foundation

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

extension SecretMask {
    /// `text` (a logged request or answer) with every secret masked — also percent-encoded, as inside a
    /// form body — and credentials in well-known places cut out: `token=…` in URLs and forms, and the
    /// `auth` / `access_token` / `refresh_token` members of a JSON body.
    public static func redact(_ text: String, hiding secrets: [String]) -> String {
        var text = text
        for secret in secrets where secret.count >= 4 {
            text = text.replacingOccurrences(of: secret, with: mask(secret))
            if let encoded = secret.addingPercentEncoding(withAllowedCharacters: .alphanumerics), encoded != secret {
                text = text.replacingOccurrences(of: encoded, with: mask(secret))
            }
        }
        text = text.replacingOccurrences(of: #"token(=|%3D)[A-Za-z0-9._-]+"#, with: "token$1***", options: .regularExpression)
        return text.replacingOccurrences(of: #""(auth|access_token|refresh_token)":"[^"]+""#, with: #""$1":"***""#, options: .regularExpression)
    }
}
