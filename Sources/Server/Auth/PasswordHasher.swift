import HummingbirdBcrypt
import NIOPosix

/// bcrypt password hashing, run on the blocking thread pool so it never stalls an event loop.
public struct PasswordHasher: Sendable {
    public let cost: UInt8
    /// A hash of a random string, verified against when a login names an unknown user, so the response
    /// time does not reveal which e-mail addresses exist.
    private let decoyHash: String

    public init(cost: UInt8) {
        self.cost = min(max(cost, 4), 31)
        self.decoyHash = Bcrypt.hash("decoy-\(UInt64.random(in: .min ... .max))", cost: self.cost)
    }

    public func hash(_ password: String) async throws -> String {
        let cost = self.cost
        return try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: cost) }
    }

    public func verify(_ password: String, hash: String?) async throws -> Bool {
        let target = hash ?? decoyHash
        let matches = try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: target) }
        return matches && hash != nil
    }
}
