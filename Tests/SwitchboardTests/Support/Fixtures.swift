import Foundation
import Asterisk
import Telephony

/// Recorded payloads under `Tests/SwitchboardTests/Fixtures` (copies of the shared crm-fixtures).
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")

    static func text(_ path: String) throws -> String {
        try String(contentsOf: directory.appendingPathComponent(path), encoding: .utf8)
    }

    static let amiCaptureNames = ["login", "inbound", "inbound.full", "outbound", "missed", "missed-busy", "missed-abandon", "click2call", "queue"]
    private static let parsedCaptures: [String: [AMIMessage]] = Dictionary(
        uniqueKeysWithValues: amiCaptureNames.map { ($0, (try? parseCapture($0)) ?? []) })

    /// An AMI capture (one JSON object per message) as the messages Asterisk sent, recorder keys removed.
    static func amiCapture(_ name: String) throws -> [AMIMessage] {
        guard let messages = parsedCaptures[name], !messages.isEmpty else { throw CocoaError(.fileReadCorruptFile) }
        return messages
    }

    private static func parseCapture(_ name: String) throws -> [AMIMessage] {
        try text("asterisk/ami-22/\(name).jsonl").split(separator: "\n").compactMap { line in
            guard let data = line.data(using: .utf8), !line.trimmingCharacters(in: .whitespaces).isEmpty else { return nil }
            // Keep the header order Asterisk used: JSONSerialization loses it, so read the pairs in order.
            return AMIMessage(try OrderedJSONObject.pairs(data).filter { !$0.name.hasPrefix("_") })
        }
    }

    /// The wire bytes of a capture: `Key: Value\r\n` lines, an empty line after each message.
    static func amiWire(_ name: String, banner: Bool = true) throws -> [UInt8] {
        var text = banner ? "Asterisk Call Manager/11.0.0\r\n" : ""
        for message in try amiCapture(name) { text += message.encoded() }
        return Array(text.utf8)
    }
}

/// Reads a flat JSON object of string values keeping key order.
enum OrderedJSONObject {
    static func pairs(_ data: Data) throws -> [(name: String, value: String)] {
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [] }
        let text = String(decoding: data, as: UTF8.self)
        // Order keys by where they first appear in the text; values come from the parsed object.
        let keys = object.keys.sorted { position(of: $0, in: text) < position(of: $1, in: text) }
        return keys.map { key in (key, object[key].map { "\($0)" } ?? "") }
    }

    private static func position(of key: String, in text: String) -> Int {
        guard let range = text.range(of: "\"\(key)\":") else { return Int.max }
        return text.distance(from: text.startIndex, to: range.lowerBound)
    }
}
