import Foundation
import Storage
import SwitchboardCore
import Testing

@Suite("Secret encryption and masking")
struct SecretBoxTests {
    @Test func roundTripAndContextBinding() throws {
        let box = try SecretBox(key: Array(repeating: 1, count: 32))
        let sealed = try box.seal("s3cr3t-value", context: "a")
        #expect(!sealed.contains("s3cr3t"))
        #expect(try box.open(sealed, context: "a") == "s3cr3t-value")
        #expect(throws: SwitchboardError.self) { try box.open(sealed, context: "b") }
        // Two seals of one value differ (fresh nonce).
        #expect(try box.seal("x", context: "a") != box.seal("x", context: "a"))
    }

    @Test func keyRotationOpensOldValues() throws {
        let old = try SecretBox(key: Array(repeating: 1, count: 32))
        let sealed = try old.seal("v", context: "c")
        let rotated = try SecretBox(key: Array(repeating: 2, count: 32), previousKeys: [Array(repeating: 1, count: 32)])
        #expect(try rotated.open(sealed, context: "c") == "v")
        let fresh = try SecretBox(key: Array(repeating: 2, count: 32))
        #expect(throws: SwitchboardError.self) { try fresh.open(sealed, context: "c") }
    }

    @Test func keyFileGeneratedOnceWithTightPermissions() throws {
        let directory = TestSupport.temporaryDirectory()
        let first = try SecretBox.load(base64Key: nil, previous: [], dataDir: directory, logger: TestSupport.logger)
        let sealed = try first.seal("v", context: "c")
        let second = try SecretBox.load(base64Key: nil, previous: [], dataDir: directory, logger: TestSupport.logger)
        #expect(try second.open(sealed, context: "c") == "v")
        let attributes = try FileManager.default.attributesOfItem(atPath: directory + "/secret.key")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect(throws: SwitchboardError.self) {
            _ = try SecretBox.load(base64Key: "short", previous: [], dataDir: directory, logger: TestSupport.logger)
        }
    }

    @Test(arguments: [("abcdefghijkl", "ab…kl"), ("short", "…"), ("", "…")])
    func masking(secret: String, masked: String) {
        #expect(SecretMask.mask(secret) == masked)
    }
}
