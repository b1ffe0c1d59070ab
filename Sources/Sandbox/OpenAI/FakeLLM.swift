import Foundation
import SwitchboardCore

/// An OpenAI-compatible Chat Completions server for tests and the demo — an emulator, not a model. It
/// answers `POST /v1/chat/completions` the way OpenAI does (bearer key, `choices[0].message.content` or
/// `.refusal`, `usage`, error bodies `{"error":{"message","type","code"}}`), from a script of replies
/// (valid answers, broken JSON, wrong SQL, refusals, HTTP errors, stalls past the client's timeout).
/// When the script is empty it asks `brain` (the demo wires one in), else answers 503.
public actor FakeLLM {
    /// One scripted reply.
    public enum Reply: Sendable {
        /// The answer text as the model would write it (valid JSON or not).
        case content(String)
        case refusal(String)
        /// An HTTP error with OpenAI's error body.
        case error(status: Int, message: String)
        /// Waits, then gives the next reply (a model slower than the client's timeout).
        indirect case delayed(Duration, Reply)
    }

    /// What was asked: the messages of each request, in order.
    public struct Request: Sendable {
        public var model: String
        public var messages: [(role: String, content: String)]
        public var responseFormat: JSONValue?
        public var question: String { messages.last { $0.role == "user" }?.content ?? "" }
    }

    public typealias Brain = @Sendable (Request) async -> String?

    let apiKey: String?
    var script: [Reply] = []
    var brain: Brain?
    public private(set) var requests: [Request] = []

    public init(apiKey: String? = "sk-sandbox", brain: Brain? = nil) {
        self.apiKey = apiKey
        self.brain = brain
    }

    /// Queues replies, answered in order before the brain is asked.
    public func enqueue(_ replies: Reply...) { script += replies }

    public func setBrain(_ brain: Brain?) { self.brain = brain }

    /// Handles one HTTP request; `(status, JSON body)`.
    public func handle(method: String, path: String, headers: [String: String], body: String) async -> (Int, JSONValue) {
        func error(_ status: Int, _ message: String, type: String, code: String?) -> (Int, JSONValue) {
            (status, ["error": ["message": .string(message), "type": .string(type), "param": nil, "code": code.map(JSONValue.string) ?? .null]])
        }
        guard method == "POST", path.hasSuffix("/chat/completions") else {
            return error(404, "Invalid URL (\(method) \(path))", type: "invalid_request_error", code: nil)
        }
        if let apiKey, (headers["authorization"] ?? headers["Authorization"]) != "Bearer \(apiKey)" {
            return error(401, "Incorrect API key provided.", type: "invalid_request_error", code: "invalid_api_key")
        }
        guard let object = JSONValue(jsonText: body)?.objectValue else {
            return error(400, "We could not parse the JSON body of your request.", type: "invalid_request_error", code: nil)
        }
        guard let model = object["model"]?.stringValue, !model.isEmpty else {
            return error(400, "you must provide a model parameter", type: "invalid_request_error", code: nil)
        }
        let messages = (object["messages"]?.arrayValue ?? []).compactMap { item -> (role: String, content: String)? in
            guard let role = item.objectValue?["role"]?.stringValue, let content = item.objectValue?["content"]?.stringValue else { return nil }
            return (role, content)
        }
        guard !messages.isEmpty else { return error(400, "'messages' must contain at least one message", type: "invalid_request_error", code: nil) }
        if let format = object["response_format"]?.objectValue, format["type"]?.stringValue == "json_schema",
            format["json_schema"]?.objectValue?["schema"]?.objectValue == nil
        {
            return error(400, "Missing required parameter: 'response_format.json_schema.schema'.", type: "invalid_request_error", code: "missing_required_parameter")
        }
        let request = Request(model: model, messages: messages, responseFormat: object["response_format"])
        requests.append(request)
        var reply: Reply
        if !script.isEmpty {
            reply = script.removeFirst()
        } else if let brain, let answer = await brain(request) {
            reply = .content(answer)
        } else {
            return error(503, "The sandbox model has no scripted reply and no brain.", type: "server_error", code: nil)
        }
        while case .delayed(let wait, let next) = reply {
            try? await Task.sleep(for: wait)
            reply = next
        }
        let promptTokens = messages.map { $0.content.utf8.count }.reduce(0, +) / 4 + 1
        var message: [String: JSONValue] = ["role": "assistant", "content": nil, "refusal": nil]
        switch reply {
        case .content(let text): message["content"] = .string(text)
        case .refusal(let text): message["refusal"] = .string(text)
        case .error(let status, let text): return error(status, text, type: status >= 500 ? "server_error" : "invalid_request_error", code: nil)
        case .delayed: break
        }
        let completionTokens = (message["content"]?.stringValue ?? message["refusal"]?.stringValue ?? "").utf8.count / 4 + 1
        return (200, [
            "id": .string("chatcmpl-sandbox-\(requests.count)"), "object": "chat.completion", "created": .number(Date().timeIntervalSince1970.rounded()),
            "model": .string(model),
            "choices": [["index": 0, "message": .object(message), "finish_reason": "stop", "logprobs": nil]],
            "usage": [
                "prompt_tokens": .number(Double(promptTokens)), "completion_tokens": .number(Double(completionTokens)),
                "total_tokens": .number(Double(promptTokens + completionTokens)),
            ],
        ])
    }
}
