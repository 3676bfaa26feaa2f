import Logging
import NIOCore
import SQLKit

/// An SQL database that hands every SQLKit call to `base`: the engines' sessions, which add
/// their fast paths (``BulkInserting``, ``RawReading``) to a connection and leave the rest alone.
public protocol SQLSessionForwarding: SQLDatabase {
    var base: any SQLDatabase { get }
}

extension SQLSessionForwarding {
    public var logger: Logger { base.logger }
    public var eventLoop: any EventLoop { base.eventLoop }
    public var version: (any SQLDatabaseReportedVersion)? { base.version }
    public var dialect: any SQLDialect { base.dialect }
    public var queryLogLevel: Logger.Level? { base.queryLogLevel }

    public func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) -> EventLoopFuture<Void> {
        base.execute(sql: query, onRow)
    }

    public func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) async throws {
        try await base.execute(sql: query, onRow)
    }

    public func withSession<R>(_ closure: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        try await closure(self)
    }
}
