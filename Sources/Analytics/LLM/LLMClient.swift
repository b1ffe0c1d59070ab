import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import SwitchboardCore

/// Where the language model is and how to talk to it: any OpenAI-compatible Chat Completions server
/// (OpenAI, Azure, OpenRouter, a local vLLM or Ollama). Read from `OPENAI_BASE_URL`, `OPENAI_API_KEY`,
/// `OPENAI_MODEL` (default `gpt-4o-mini`).
public struct LLMSettings: Sendable, Equatable {
    /// How the server is asked for JSON. `strict` sends OpenAI's strict `json_schema`; `json` asks for a JSON
    /// object (Ollama, older servers); `none` relies on the prompt alone. The schema is in the prompt either way.
    public enum Structured: String, Sendable, CaseIterable { case strict, json, none }

    public var baseURL: String
    public var apiKey: String?
    public var model: String
    public var structured: Structured
    /// Per request; a model that has not answered by then is asked again (`retries` times).
    public var timeout: Duration
    public var retries: Int

    public init(
        baseURL: String = "https://api.openai.com/v1", apiKey: String? = nil, model: String = "gpt-4o-mini", structured: Structured = .strict,
        timeout: Duration = .seconds(30), retries: Int = 1
    ) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.apiKey = apiKey
        self.model = model
        self.structured = structured
        self.timeout = timeout
        self.retries = retries
    }

    /// The settings the environment names, or nil when neither a base URL nor a key is set (no LLM: the
    /// built-in planner answers alone).
    public static func fromEnvironment(_ environment: [String: String]) throws(SwitchboardError) -> LLMSettings? {
        let base = environment["OPENAI_BASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
        let key = environment["OPENAI_API_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        guard base != nil || key != nil else { return nil }
        var settings = LLMSettings(baseURL: base ?? "https://api.openai.com/v1", apiKey: key)
        if let model = environment["OPENAI_MODEL"], !model.isEmpty { settings.model = model }
        if let mode = environment["OPENAI_STRUCTURED_OUTPUT"], !mode.isEmpty {
            guard let parsed = Structured(rawValue: mode) else {
                throw .invalid("OPENAI_STRUCTURED_OUTPUT", "use strict, json or none")
            }
            settings.structured = parsed
        }
        if let seconds = environment["OPENAI_TIMEOUT_SECONDS"], !seconds.isEmpty {
            guard let value = Int(seconds), (1...600).contains(value) else { throw .invalid("OPENAI_TIMEOUT_SECONDS", "give 1–600 seconds") }
            settings.timeout = .seconds(value)
        }
        guard let url = URL(string: settings.baseURL), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
            throw .invalid("OPENAI_BASE_URL", "give an http(s) URL such as https://api.openai.com/v1")
        }
        return settings
    }
}

/// Tokens a model call used, as the server reported them.
public struct LLMUsage: Sendable, Equatable, Codable {
    public var promptTokens = 0
    public var completionTokens = 0
    public var requests = 0

    public init(promptTokens: Int = 0, completionTokens: Int = 0, requests: Int = 0) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.requests = requests
    }

    public static func + (lhs: LLMUsage, rhs: LLMUsage) -> LLMUsage {
        LLMUsage(promptTokens: lhs.promptTokens + rhs.promptTokens, completionTokens: lhs.completionTokens + rhs.completionTokens, requests: lhs.requests + rhs.requests)
    }

    enum CodingKeys: String, CodingKey { case promptTokens = "prompt_tokens", completionTokens = "completion_tokens", requests }
}

/// One chat message.
public struct LLMMessage: Sendable, Equatable {
    public var role: String
    public var content: String

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}

/// Talks to an OpenAI-compatible `/chat/completions`: one request per call, retried on timeouts, 429 and
/// 5xx with a short backoff; a refusal, a 4xx or an empty answer is reported, never guessed around.
public struct LLMClient: Sendable {
    public let settings: LLMSettings
    let httpClient: HTTPClient
    let logger: Logger

    public init(settings: LLMSettings, httpClient: HTTPClient = .shared, logger: Logger) {
        self.settings = settings
        self.httpClient = httpClient
        self.logger = logger
    }

    /// The model's answer text and the tokens used (summed over retries).
    public func complete(_ messages: [LLMMessage], schema: JSONValue?) async throws(SwitchboardError) -> (content: String, usage: LLMUsage) {
        var body: [String: JSONValue] = [
            "model": .string(settings.model), "temperature": 0,
            "messages": .array(messages.map { ["role": .string($0.role), "content": .string($0.content)] }),
        ]
        switch (settings.structured, schema) {
        case (.strict, let schema?):
            body["response_format"] = ["type": "json_schema", "json_schema": ["name": "chart_answer", "strict": true, "schema": schema]]
        case (.json, _), (.strict, nil): body["response_format"] = ["type": "json_object"]
        case (.none, _): break
        }
        var usage = LLMUsage()
        var attempt = 0
        while true {
            attempt += 1
            do {
                let (content, used) = try await send(JSONValue.object(body).jsonText)
                return (content, usage + used)
            } catch let failure as Failure {
                usage = usage + failure.usage
                logger.warning("llm request failed", metadata: ["attempt": "\(attempt)", "error": "\(failure.error.message)", "model": "\(settings.model)"])
                guard failure.retryable, attempt <= settings.retries else { throw failure.error }
                try? await Task.sleep(for: .milliseconds(500 * attempt))
            } catch {
                throw SwitchboardError(.unavailable, code: "llm_unavailable", message: "the language model could not be reached: \(error)")
            }
        }
    }

    struct Failure: Error {
        var error: SwitchboardError
        var retryable: Bool
        var usage = LLMUsage()
    }

    func send(_ body: String) async throws(Failure) -> (String, LLMUsage) {
        var request = HTTPClientRequest(url: settings.baseURL + "/chat/completions")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        if let key = settings.apiKey { request.headers.add(name: "Authorization", value: "Bearer \(key)") }
        request.body = .bytes(ByteBuffer(string: body))
        let status: UInt
        let text: String
        do {
            let response = try await httpClient.execute(request, timeout: .nanoseconds(Int64(settings.timeout.components.seconds) * 1_000_000_000))
            status = response.status.code
            text = String(buffer: try await response.body.collect(upTo: 4 << 20))
        } catch {
            let timedOut = (error as? HTTPClientError) == .deadlineExceeded || "\(error)".contains("deadline") || "\(error)".contains("timeout")
            throw Failure(
                error: SwitchboardError(
                    .unavailable, code: timedOut ? "llm_timeout" : "llm_unavailable",
                    message: timedOut ? "the language model did not answer within \(settings.timeout.components.seconds) s" : "the language model could not be reached (\(error))"),
                retryable: true)
        }
        let json = JSONValue(jsonText: text)
        let object = json?.objectValue ?? [:]
        guard (200..<300).contains(status) else {
            let detail = object["error"]?.objectValue?["message"]?.stringValue ?? String(text.prefix(200))
            throw Failure(
                error: SwitchboardError(.unavailable, code: "llm_refused", message: "the language model answered HTTP \(status): \(detail)"),
                retryable: status == 429 || status >= 500)
        }
        let usage = LLMUsage(
            promptTokens: object["usage"]?.objectValue?["prompt_tokens"]?.intValue ?? 0,
            completionTokens: object["usage"]?.objectValue?["completion_tokens"]?.intValue ?? 0, requests: 1)
        let message = object["choices"]?.arrayValue?.first?.objectValue?["message"]?.objectValue
        if let refusal = message?["refusal"]?.stringValue, !refusal.isEmpty {
            throw Failure(error: SwitchboardError(.unavailable, code: "llm_refused", message: "the language model refused: \(refusal)"), retryable: false, usage: usage)
        }
        guard let content = message?["content"]?.stringValue, !content.isEmpty else {
            throw Failure(error: SwitchboardError(.unavailable, code: "llm_empty", message: "the language model sent no answer text"), retryable: true, usage: usage)
        }
        return (content, usage)
    }
}
