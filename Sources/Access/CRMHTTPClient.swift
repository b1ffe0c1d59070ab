import AsyncHTTPClient
import NIOCore

extension HTTPClient {
    /// The HTTP client for CRM requests. AsyncHTTPClient keeps retrying a refused or unreachable connection
    /// until the connect timeout (the shared client's is longer than a Bitrix24 request's 60 s), so a portal
    /// that is down would hold a worker for a minute per request; here a connection fails after 5 s.
    public static let crm: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(5))
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()
}
