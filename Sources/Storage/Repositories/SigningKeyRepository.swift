import Foundation
import SQLKit
import SwitchboardCore

/// A key that signs admin JWTs. The newest unretired key signs; every unretired key verifies.
public struct SigningKey: Sendable, Equatable {
    public enum Algorithm: String, Sendable, CaseIterable { case hs256 = "HS256", eddsa = "EdDSA", es256 = "ES256" }

    public var kid: String
    public var algorithm: Algorithm
    /// Raw key material: the HMAC secret, or the private key's raw representation.
    public var material: [UInt8]
    public var createdAt: Date
    public var retiredAt: Date?

    public init(kid: String, algorithm: Algorithm, material: [UInt8], createdAt: Date, retiredAt: Date? = nil) {
        self.kid = kid
        self.algorithm = algorithm
        self.material = material
        self.createdAt = createdAt
        self.retiredAt = retiredAt
    }
}

/// Stores JWT signing keys sealed with the installation's secret key, so every instance shares them.
public struct SigningKeyRepository: Sendable {
    let runner: any SQLRunner
    let secrets: SecretBox

    public init(_ runner: any SQLRunner, secrets: SecretBox) {
        self.runner = runner
        self.secrets = secrets
    }

    public func add(_ key: SigningKey) async throws {
        let sealed = try secrets.seal(Data(key.material).base64EncodedString(), context: "signing-key:\(key.kid)")
        try await runner.run { sql in
            try await sql.raw(
                """
                INSERT INTO signing_keys (kid, algorithm, key_enc, created_at)
                VALUES (\(bind: key.kid), \(bind: key.algorithm.rawValue), \(bind: sealed), \(bind: key.createdAt))
                """
            ).run()
        }
    }

    /// Unretired keys, newest first.
    public func active() async throws -> [SigningKey] {
        try await all().filter { $0.retiredAt == nil }
    }

    /// Every key, newest first.
    public func all() async throws -> [SigningKey] {
        let rows = try await runner.run { sql in
            try await sql.raw("SELECT * FROM signing_keys ORDER BY created_at DESC, kid DESC").all()
        }
        return try rows.map { row in
            let kid = try row.decode(column: "kid", as: String.self)
            let sealed = try row.decode(column: "key_enc", as: String.self)
            let algorithmName = try row.decode(column: "algorithm", as: String.self)
            guard let algorithm = SigningKey.Algorithm(rawValue: algorithmName),
                let material = Data(base64Encoded: try secrets.open(sealed, context: "signing-key:\(kid)"))
            else {
                throw SwitchboardError(.internal, code: "bad_signing_key", message: "signing key \(kid) is unreadable")
            }
            return SigningKey(
                kid: kid, algorithm: algorithm, material: Array(material),
                createdAt: try row.date("created_at"),
                retiredAt: try row.optionalDate("retired_at"))
        }
    }

    /// Retires a key: tokens signed with it stop verifying.
    public func retire(kid: String) async throws {
        let changed = try await runner.run { sql in
            try await sql.raw(
                """
                UPDATE signing_keys SET retired_at = \(bind: Date.storageNow) WHERE kid = \(bind: kid) AND retired_at IS NULL
                RETURNING kid
                """
            ).first()
        }
        guard changed != nil else { throw SwitchboardError.notFound("active signing key '\(kid)'") }
    }
}
