import Foundation
import SwitchboardCore
import Testing

@Suite("JSON text")
struct JSONTextTests {
    static func randomValue(_ random: inout SplitMix64, depth: Int = 0) -> JSONValue {
        switch Int.random(in: 0..<(depth > 3 ? 4 : 6), using: &random) {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &random))
        case 2:
            return Bool.random(using: &random)
                ? .number(Double(Int64.random(in: -1_000_000_000_000...1_000_000_000_000, using: &random)))
                : .number(Double.random(in: -1e6...1e6, using: &random))
        case 3:
            let alphabet = Array("aZ09 \"\\/\n\t\u{01}ёЖ€😀ä_-.,:{}[]")
            return .string(String((0..<Int.random(in: 0..<12, using: &random)).map { _ in alphabet.randomElement(using: &random)! }))
        case 4: return .array((0..<Int.random(in: 0..<5, using: &random)).map { _ in randomValue(&random, depth: depth + 1) })
        default:
            var members: [String: JSONValue] = [:]
            for index in 0..<Int.random(in: 0..<5, using: &random) { members["k\(index)ё\"/"] = randomValue(&random, depth: depth + 1) }
            return .object(members)
        }
    }

    @Test("random documents round-trip and read the same as Foundation's decoder")
    func roundTrip() async throws {
        var random = SplitMix64(seed: 2026)
        for round in 0..<3000 {
            if round % 100 == 0 { await Task.yield() }  // a long CPU loop must not hold a cooperative thread for the whole run
            let value = Self.randomValue(&random)
            let text = value.jsonText
            #expect(JSONValue(jsonText: text) == value, "\(text)")
            let foundation = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
            #expect(foundation == value, "\(text)")
        }
    }

    @Test("escapes, surrogate pairs and whitespace are read; broken documents are refused")
    func edgeCases() {
        #expect(JSONValue(jsonText: #" { "a" : [ 1 , -2.5e3 , "\u0041\ud83d\ude00\n" , true , null ] } "#)
            == ["a": [1, -2500, "A😀\n", true, nil]])
        for broken in ["", "{", "[1,]", "{\"a\":}", "01", "1.", "\"\\ud800\"", "\"a", "nul", "[1] x", "\"\u{01}\"", "{\"a\" 1}"] {
            let parsed: JSONValue? = JSONValue(jsonText: broken)
            // Compared as text: a bare `nil` here would be read as JSONValue.null.
            #expect(parsed.map(\.jsonText) == Optional<String>.none, "\(broken)")
        }
        #expect(JSONValue.object(["b": 1, "a": "x/y"]).jsonText == #"{"a":"x/y","b":1}"#)
    }
}
