import Foundation
import ServiceLifecycle
import Hummingbird
import SwitchboardCore

/// Serves an emulator (RetailCRM, Bitrix24) over HTTP on loopback (tests and `switchboard demo`).
public enum SandboxServer {
    /// The router that forwards every request to the RetailCRM emulator.
    public static func router(retailCRM emulator: RetailCRMEmulator) -> Router<BasicRequestContext> {
        let router = Router()
        let handler: @Sendable (Request, BasicRequestContext) async throws -> Response = { request, _ in
            let body = try await request.body.collect(upTo: 4 << 20)
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            let query = (try? FormURLEncoding.decode(request.uri.query ?? "")) ?? []
            let answer = await emulator.handle(
                method: request.method.rawValue, path: request.uri.path, query: query, headers: headers,
                body: String(buffer: body))
            let data = try JSONEncoder().encode(answer.body)
            return Response(
                status: .init(code: answer.status), headers: [.contentType: "application/json; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        router.get("**", use: handler)
        router.post("**", use: handler)
        // What the emulated account received, for people trying the demo (not part of RetailCRM's API).
        router.get("sandbox/state") { _, _ -> Response in
            let state: JSONValue = [
                "call_events": (try? JSONValue(encoding: await emulator.callEvents)) ?? .null,
                "uploaded_calls": (try? JSONValue(encoding: await emulator.uploadedCalls)) ?? .null,
                "module": (try? JSONValue(encoding: await emulator.module)) ?? .null,
                "tasks": (try? JSONValue(encoding: await emulator.tasks)) ?? .null,
            ]
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            return Response(
                status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(state))))
        }
        return router
    }

    /// Runs the emulator on `127.0.0.1` (port 0 picks a free one) while `body` runs; `body` gets its base URL.
    public static func withRetailCRM<R: Sendable>(
        _ emulator: RetailCRMEmulator, port: Int = 0, _ body: @Sendable (String) async throws -> R
    ) async throws -> R {
        try await runOnLoopback(router: router(retailCRM: emulator), serverName: "RetailCRM-Sandbox", port: port, body)
    }

    /// The router that forwards every request (`/rest/**`, `/oauth/token/`, `/sandbox/state`) to the Bitrix24 emulator.
    public static func router(bitrix24 emulator: Bitrix24Emulator) -> Router<BasicRequestContext> {
        let router = Router()
        let handler: @Sendable (Request, BasicRequestContext) async throws -> Response = { request, _ in
            let body = try await request.body.collect(upTo: 8 << 20)
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            if let authority = request.head.authority { headers["host"] = authority }
            let query = (try? FormURLEncoding.decode(request.uri.query ?? "")) ?? []
            let answer = await emulator.handle(
                method: request.method.rawValue, path: request.uri.path, query: query, headers: headers,
                body: String(buffer: body))
            // Hand-written JSON: pages of 50 records × 50 batch commands are too big for Codable's pace.
            return Response(
                status: .init(code: answer.status), headers: [.contentType: "application/json; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: answer.body.jsonText)))
        }
        router.get("**", use: handler)
        router.post("**", use: handler)
        return router
    }

    /// The router that forwards every request to the amoCRM emulator (answers keep its content types:
    /// `application/hal+json`, `application/problem+json`, a 204 with no body, a 429 in HTML).
    public static func router(amoCRM emulator: AmoCRMEmulator) -> Router<BasicRequestContext> {
        let router = Router()
        let handler: @Sendable (Request, BasicRequestContext) async throws -> Response = { request, _ in
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            let query = (try? FormURLEncoding.decode(request.uri.query ?? "")) ?? []
            let body = try await request.body.collect(upTo: 4 << 20)
            let answer = await emulator.handle(
                method: request.method.rawValue, path: request.uri.path, query: query, headers: headers, body: String(buffer: body))
            guard answer.status != 204 else { return Response(status: .noContent) }
            return Response(
                status: .init(code: answer.status), headers: [.contentType: answer.contentType],
                body: .init(byteBuffer: ByteBuffer(string: answer.body)))
        }
        router.get("**", use: handler)
        router.post("**", use: handler)
        router.patch("**", use: handler)
        // What the emulated account received, for people trying the demo (not part of amoCRM's API).
        router.get("sandbox/state") { _, _ -> Response in
            let state = await emulator.sandboxState()
            return Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: state.jsonText)))
        }
        return router
    }

    /// The router of the OpenAI-compatible fake model (`POST /v1/chat/completions`).
    public static func router(llm: FakeLLM) -> Router<BasicRequestContext> {
        let router = Router()
        router.post("**") { request, _ -> Response in
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            let body = try await request.body.collect(upTo: 4 << 20)
            let (status, answer) = await llm.handle(method: "POST", path: request.uri.path, headers: headers, body: String(buffer: body))
            return Response(
                status: .init(code: status), headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: answer.jsonText)))
        }
        return router
    }

    /// Runs the fake model on `127.0.0.1` while `body` runs; `body` gets the base URL to use as
    /// `OPENAI_BASE_URL` (`http://127.0.0.1:<port>/v1`).
    public static func withLLM<R: Sendable>(_ llm: FakeLLM, port: Int = 0, _ body: @Sendable (String) async throws -> R) async throws -> R {
        try await runOnLoopback(router: router(llm: llm), serverName: "OpenAI-Sandbox", port: port) { base in try await body(base + "/v1") }
    }

    /// Runs the amoCRM emulator on `127.0.0.1` while `body` runs; `body` gets its base URL (the account's
    /// `https://{subdomain}.amocrm.ru` in real life).
    public static func withAmoCRM<R: Sendable>(_ emulator: AmoCRMEmulator, port: Int = 0, _ body: @Sendable (String) async throws -> R) async throws -> R {
        try await runOnLoopback(router: router(amoCRM: emulator), serverName: "amoCRM-Sandbox", port: port) { base in
            await emulator.setBaseURL(base)
            return try await body(base)
        }
    }

    /// Runs the Bitrix24 emulator on `127.0.0.1` while `body` runs; `body` gets the server root
    /// (`http://127.0.0.1:<port>`): the incoming webhook is `\(base)/rest/1/<webhookCode>/`, OAuth tokens at
    /// `\(base)/oauth/token/`, app calls at `\(base)/rest/<method>?auth=…`.
    public static func withBitrix24<R: Sendable>(
        _ emulator: Bitrix24Emulator, port: Int = 0, _ body: @Sendable (String) async throws -> R
    ) async throws -> R {
        try await runOnLoopback(router: router(bitrix24: emulator), serverName: "Bitrix24-Sandbox", port: port) { base in
            await emulator.setBaseURL(base)
            return try await body(base)
        }
    }

    /// Serves any `router` on `127.0.0.1` (port 0 picks a free one) while `body` runs, then shuts down
    /// gracefully; `body` gets the base URL. Tests use it for small receivers (event handlers).
    public static func runOnLoopback<R: Sendable>(
        router: Router<BasicRequestContext>, serverName: String, port: Int, _ body: @Sendable (String) async throws -> R
    ) async throws -> R {
        let (ports, portSink) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: serverName),
            onServerRunning: { channel in
                portSink.yield(channel.localAddress?.port ?? port)
                portSink.finish()
            })
        // Stopped gracefully (not cancelled), so the demo's exit logs no shutdown errors.
        let service = ServiceGroup(configuration: .init(services: [.init(service: app)], logger: app.logger))
        return try await withThrowingTaskGroup(of: R?.self) { group in
            group.addTask {
                try await service.run()
                return nil
            }
            var iterator = ports.makeAsyncIterator()
            guard let bound = await iterator.next() else { throw SwitchboardError(.internal, code: "sandbox", message: "sandbox did not start") }
            let result: R
            do {
                result = try await body("http://127.0.0.1:\(bound)")
            } catch {
                await service.triggerGracefulShutdown()
                throw error
            }
            await service.triggerGracefulShutdown()
            while let next = try? await group.next() { if next == nil { break } }
            return result
        }
    }
}
