import Foundation

/// Reads a JWT's header before verification, to route it to the right verifier.
struct JWTHeaderPeek: Decodable {
    var alg: String?
    var kid: String?

    /// Algorithms any verifier here accepts; `none` and anything unknown are refused outright.
    static let acceptedAlgorithms: Set<String> = ["HS256", "EdDSA", "ES256", "RS256"]

    static func parse(_ token: String) -> JWTHeaderPeek? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let data = base64URLDecode(String(parts[0])) else { return nil }
        return try? JSONDecoder().decode(JWTHeaderPeek.self, from: data)
    }

    static func base64URLDecode(_ text: String) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64)
    }
}
