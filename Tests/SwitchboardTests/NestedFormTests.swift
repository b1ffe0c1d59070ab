import Foundation
import SwitchboardCore
import Testing

@Suite("PHP bracket forms (Bitrix24 and amoCRM webhooks, Bitrix24 batch commands)")
struct NestedFormTests {
    @Test("the recorded Bitrix24 event decodes into nested fields")
    func recordedEvent() throws {
        let body = try Fixtures.text("bitrix24/b24_event_oncrmcontactadd.form-urlencoded.txt")
        let form = try FormURLEncoding.decodeNested(body)
        #expect(form["event"] == "ONCRMCONTACTADD")
        #expect(form["data"]?.objectValue?["FIELDS"]?.objectValue?["ID"] == "134806")
        let auth = try #require(form["auth"]?.objectValue)
        #expect(auth["application_token"] == "3c6c9248ec54af6bea1159b43ee0ab32")
        #expect(auth["server_endpoint"] == "https://oauth.bitrix.info/rest/")
        #expect(auth["scope"] == "crm,placement,user_brief")
    }

    @Test("indexes and [] become arrays, other keys objects; a later value wins")
    func shapes() throws {
        let form = try FormURLEncoding.decodeNested(
            "leads%5Badd%5D%5B0%5D%5Bid%5D=1&leads%5Badd%5D%5B1%5D%5Bid%5D=2&tags[]=a&tags[]=b&filter[%3EID]=50&x=1&x=2&broken[a=3")
        #expect(form["leads"] == ["add": [["id": "1"], ["id": "2"]]])
        #expect(form["tags"] == ["a", "b"])
        #expect(form["filter"] == [">ID": "50"])
        #expect(form["x"] == "2")
        #expect(form["broken[a"] == "3")
    }

    @Test("too deep a key is refused with a 400 naming the body")
    func depth() {
        let key = "a" + String(repeating: "[b]", count: 40)
        #expect(throws: SwitchboardError.self) { try FormURLEncoding.decodeNested(key + "=1") }
    }

    @Test("encode then decode gives the same structure (random trees)")
    func roundTrip() throws {
        var generator = SplitMix64(seed: 2026)
        let words = ["ID", ">ID", "DATE_MODIFY", "ASC", "имя", "a b", "x&y=z", "[", "50", "%"]
        func tree(_ depth: Int) -> JSONValue {
            switch Int.random(in: 0..<(depth > 3 ? 1 : 3), using: &generator) {
            case 0: return .string(words.randomElement(using: &generator)!)
            case 1: return .array((0..<Int.random(in: 1...3, using: &generator)).map { _ in tree(depth + 1) })
            default:
                var object: [String: JSONValue] = [:]
                for _ in 0..<Int.random(in: 1...3, using: &generator) {
                    object["k\(Int.random(in: 0...5, using: &generator))" + words.randomElement(using: &generator)!.filter { $0 != "[" }] = tree(depth + 1)
                }
                return .object(object)
            }
        }
        for _ in 0..<500 {
            var object: [String: JSONValue] = [:]
            for index in 0..<Int.random(in: 1...4, using: &generator) { object["top\(index)"] = tree(0) }
            let encoded = FormURLEncoding.encodeNested(object)
            #expect(try FormURLEncoding.decodeNested(encoded) == object, "\(encoded)")
        }
    }
}
