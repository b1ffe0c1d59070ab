import Crypto
import Foundation
import Logging
import SwitchboardCore

/// Encrypts secrets at rest with AES-256-GCM.
///
/// Sealed values look like `v1.<key id>.<base64 nonce|ciphertext|tag>`. The key id lets a new key be
/// introduced while old rows still open; the `context` (e.g. `integration:<tenant>:<kind>`) is bound as
/// authenticated data, so a ciphertext copied into another row does not decrypt.
public struct SecretBox: Sendable {
    private let current: (id: String, key: SymmetricKey)
    private let all: [String: SymmetricKey]

    /// - Parameters:
    ///   - key: 32 raw bytes, the key new secrets are sealed with.
    ///   - previousKeys: older keys that still open existing rows.
    public init(key: [UInt8], previousKeys: [[UInt8]] = []) throws(SwitchboardError) {
        guard key.count == 32, previousKeys.allSatisfy({ $0.count == 32 }) else {
            throw .invalid("SWITCHBOARD_SECRET_KEY", "a secret key must be 32 bytes, base64-encoded")
        }
        let keys = ([key] + previousKeys).map { bytes in (Self.keyID(bytes), SymmetricKey(data: bytes)) }
        self.current = keys[0]
        self.all = Dictionary(keys, uniquingKeysWith: { first, _ in first })
    }

    /// Loads the key from `base64Key`, or from `<dataDir>/secret.key`, generating that file on first run.
    public static func load(base64Key: String?, previous: [String], dataDir: String, logger: Logger) throws -> SecretBox {
        let previousKeys = try previous.filter { !$0.isEmpty }.map { try decode($0, field: "SWITCHBOARD_SECRET_KEY_PREVIOUS") }
        if let base64Key, !base64Key.isEmpty {
            return try SecretBox(key: decode(base64Key, field: "SWITCHBOARD_SECRET_KEY"), previousKeys: previousKeys)
        }
        let path = URL(fileURLWithPath: dataDir).appendingPathComponent("secret.key").path
        if let existing = FileManager.default.contents(atPath: path) {
            let text = String(decoding: existing, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            return try SecretBox(key: decode(text, field: path), previousKeys: previousKeys)
        }
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        let key = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
        let created = FileManager.default.createFile(
            atPath: path, contents: Data((Data(key).base64EncodedString() + "\n").utf8),
            attributes: [.posixPermissions: 0o600])
        guard created else {
            throw SwitchboardError(.unavailable, code: "secret_key_unwritable", message: "cannot write \(path)")
        }
        logger.warning(
            "GENERATED A NEW SECRET KEY — back it up: without it the stored CRM credentials cannot be decrypted",
            metadata: ["path": "\(path)", "hint": "set SWITCHBOARD_SECRET_KEY to manage the key yourself"])
        return try SecretBox(key: key, previousKeys: previousKeys)
    }

    private static func decode(_ base64: String, field: String) throws(SwitchboardError) -> [UInt8] {
        guard let data = Data(base64Encoded: base64.trimmingCharacters(in: .whitespacesAndNewlines)), data.count == 32
        else { throw .invalid(field, "a secret key must be 32 bytes, base64-encoded") }
        return Array(data)
    }

    private static func keyID(_ key: [UInt8]) -> String {
        String(SHA256.hash(data: key).map { String(format: "%02x", $0) }.joined().prefix(8))
    }

    /// Encrypts `plaintext`, binding it to `context`.
    public func seal(_ plaintext: String, context: String) throws -> String {
        let box = try AES.GCM.seal(Data(plaintext.utf8), using: current.key, authenticating: Data(context.utf8))
        guard let combined = box.combined else {
            throw SwitchboardError(.internal, code: "encryption_failed", message: "AES-GCM produced no output")
        }
        return "v1.\(current.id).\(combined.base64EncodedString())"
    }

    /// Decrypts a value made by ``seal(_:context:)`` with the same `context`.
    public func open(_ sealed: String, context: String) throws -> String {
        let parts = sealed.split(separator: ".", maxSplits: 2).map(String.init)
        guard parts.count == 3, parts[0] == "v1", let key = all[parts[1]], let data = Data(base64Encoded: parts[2])
        else {
            throw SwitchboardError(
                .internal, code: "secret_undecryptable",
                message: "a stored secret was sealed with an unknown key; configure SWITCHBOARD_SECRET_KEY_PREVIOUS")
        }
        do {
            let box = try AES.GCM.SealedBox(combined: data)
            let plain = try AES.GCM.open(box, using: key, authenticating: Data(context.utf8))
            return String(decoding: plain, as: UTF8.self)
        } catch {
            throw SwitchboardError(
                .internal, code: "secret_undecryptable", message: "a stored secret failed authentication")
        }
    }
}
