import Foundation
import Logging
import SQLKit
import SharedModels
import Synchronization

/// Whether reads that could go to a replica must go to the primary instead.
public enum ReplicaReads {
    /// Set while serving a request that must see what its client just wrote (the page after a
    /// form): ``Database/readFromReplica(_:)`` reads from the primary.
    @TaskLocal public static var primaryOnly = false
}

/// The primary and a streaming read replica (`patron serve --read-database URL`). Writes and plain
/// reads go to the primary; ``readFromReplica(_:)`` goes to the replica, unless the request must see
/// its own writes, and falls back to the primary while the replica does not answer.
public final class ReplicatedDatabase: Database, Sendable {
    public let primary: any Database
    public let replica: any Database
    private let logger: Logger
    /// When the replica last failed to answer (for logging once per outage rather than per read).
    private let lastFailure = Mutex<Date?>(nil)

    public init(primary: any Database, replica: any Database, logger: Logger) {
        self.primary = primary
        self.replica = replica
        self.logger = logger
    }

    public var engine: Engine { primary.engine }
    public var exclusiveTransactionLock: String? { primary.exclusiveTransactionLock }
    public var claimClause: String { primary.claimClause }

    public func read<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await primary.read(body)
    }

    public func write<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await primary.write(body)
    }

    public func writeOne<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await primary.writeOne(body)
    }

    public func readFromReplica<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        if ReplicaReads.primaryOnly { return try await primary.read(body) }
        do {
            return try await replica.read(body)
        } catch let failure as DatabaseFailure {
            guard case .unavailable = failure else { throw failure }
            let now = Date()
            let first = lastFailure.withLock { last -> Bool in
                defer { last = now }
                return last.map { now.timeIntervalSince($0) > 60 } ?? true
            }
            if first { logger.warning("the read replica does not answer; reading from the primary", metadata: ["error": "\(failure)"]) }
            return try await primary.read(body)
        }
    }

    public func close() async throws {
        try? await replica.close()
        try await primary.close()
    }
}
