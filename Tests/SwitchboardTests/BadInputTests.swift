import Foundation
import Hummingbird
import HummingbirdTesting
import Server
import SwitchboardCore
import Testing

@Suite("Bad input gets a 4xx naming the field")
struct BadInputTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var method: HTTPRequest.Method
        var path: String
        var body: String?
        var status: Int
        var field: String?
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        .init(name: "malformed JSON", method: .post, path: "/api/v1/tenants", body: #"{"slug": "x""#, status: 400, field: "body"),
        .init(name: "not an object", method: .post, path: "/api/v1/tenants", body: #"["x"]"#, status: 400, field: "body"),
        .init(name: "empty body", method: .post, path: "/api/v1/tenants", body: "", status: 400, field: "body"),
        .init(name: "wrong type", method: .post, path: "/api/v1/tenants", body: #"{"slug": 5, "name": "x"}"#, status: 400, field: "slug"),
        .init(name: "missing field", method: .post, path: "/api/v1/tenants", body: #"{"slug": "abc"}"#, status: 400, field: "name"),
        .init(name: "unknown field", method: .post, path: "/api/v1/tenants", body: #"{"slug": "abc", "name": "x", "color": "red"}"#, status: 400, field: "color"),
        .init(name: "invalid slug", method: .post, path: "/api/v1/tenants", body: #"{"slug": "Not OK", "name": "x"}"#, status: 400, field: "slug"),
        .init(name: "invalid time zone", method: .post, path: "/api/v1/tenants", body: #"{"slug": "tz", "name": "x", "time_zone": "Mars/Base"}"#, status: 400, field: "time_zone"),
        .init(name: "null for a string", method: .patch, path: "/api/v1/tenants/alpha", body: #"{"name": 12}"#, status: 400, field: "name"),
        .init(name: "unknown integration kind", method: .put, path: "/api/v1/tenants/alpha/integrations/salesforce", body: #"{}"#, status: 400, field: "kind"),
        .init(name: "settings not an object", method: .put, path: "/api/v1/tenants/alpha/integrations/asterisk", body: #"{"settings": [1]}"#, status: 400, field: "settings"),
        .init(name: "secret value not a string", method: .put, path: "/api/v1/tenants/alpha/integrations/asterisk", body: #"{"secrets": {"secret": 5}}"#, status: 400, field: "secrets.secret"),
        .init(name: "bad role", method: .post, path: "/api/v1/users", body: #"{"email": "a@b.co", "password": "long enough pw", "role": "god"}"#, status: 400, field: "role"),
        .init(name: "short password", method: .post, path: "/api/v1/users", body: #"{"email": "a@b.co", "password": "short", "role": "super_admin"}"#, status: 400, field: "password"),
        .init(name: "bad email", method: .post, path: "/api/v1/users", body: #"{"email": "nope", "password": "long enough pw", "role": "super_admin"}"#, status: 400, field: "email"),
        .init(name: "bad token scope", method: .post, path: "/api/v1/tenants/alpha/tokens", body: #"{"name": "x", "scope": "root"}"#, status: 400, field: "scope"),
        .init(name: "bad expiry", method: .post, path: "/api/v1/tenants/alpha/tokens", body: #"{"name": "x", "expires_at": "tomorrow"}"#, status: 400, field: "expires_at"),
        .init(name: "past expiry", method: .post, path: "/api/v1/tenants/alpha/tokens", body: #"{"name": "x", "expires_at": "2001-01-01T00:00:00Z"}"#, status: 400, field: "expires_at"),
        .init(name: "bad log filter", method: .get, path: "/api/v1/tenants/alpha/logs?status=maybe", body: nil, status: 400, field: "status"),
        .init(name: "bad log time", method: .get, path: "/api/v1/tenants/alpha/logs?before=yesterday", body: nil, status: 400, field: "before"),
    ]

    @Test(arguments: cases)
    func refused(_ testCase: Case) async throws {
        try await TestSupport.withApp(.sqlite) { client, world in
            let response = try await client.send(testCase.method, testCase.path, token: world.adminToken, json: testCase.body)
            #expect(Int(response.status.code) == testCase.status, "\(response.text)")
            #expect(response.errorField == testCase.field, "\(response.text)")
            #expect(response.headers[.contentType]?.hasPrefix("application/json") == true)
        }
    }

    @Test("oversize bodies get 413, declared or streamed")
    func oversize() async throws {
        try await TestSupport.withApp(.sqlite, settings: ServerSettings(maxBodyBytes: 2048, bcryptCost: 4)) { client, world in
            let big = #"{"slug":"big","name":""# + String(repeating: "x", count: 5000) + #""}"#
            let response = try await client.send(.post, "/api/v1/tenants", token: world.adminToken, json: big)
            #expect(response.status == .contentTooLarge)
            #expect(response.errorField == "body")
        }
    }

    @Test("unknown routes and fuzzed bodies never produce a 500")
    func noServerErrors() async throws {
        try await TestSupport.withApp(.sqlite) { client, world in
            #expect(try await client.send(.get, "/nope").status == .notFound)
            var generator = SystemRandomNumberGenerator()
            let fragments = ["{", "}", "[", "]", "\"slug\"", ":", ",", "null", "1e999", "\"\\u0000\"", "true", "\"имя\"", "\\", "\"name\""]
            for _ in 0..<150 {
                let body = (0..<Int.random(in: 0...12, using: &generator)).map { _ in fragments.randomElement(using: &generator)! }.joined()
                for path in ["/api/v1/tenants", "/api/v1/auth/login", "/api/v1/tenants/alpha/integrations/asterisk", "/api/v1/users"] {
                    let method: HTTPRequest.Method = path.hasSuffix("asterisk") ? .put : .post
                    let response = try await client.send(method, path, token: world.adminToken, json: body)
                    #expect(response.status.code < 500, "\(path) \(body) → \(response.status.code) \(response.text)")
                }
            }
        }
    }
}
