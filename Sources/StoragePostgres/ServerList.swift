import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import PostgresKit
import SharedModels

/// The servers a `postgres://` URL names, and which of them a connection may be made to.
///
/// Like libpq, the URL may name several servers, `postgres://user@h1:5432,h2:5433/db`, and say
/// with `target_session_attrs` which kind it wants: `any` (the default), `read-write` or
/// `primary` (a server that accepts writes), `read-only` or `standby` (one that does not), or
/// `prefer-standby`. `connect_timeout` (seconds) bounds each attempt. `prepared_statements=off`
/// sends every statement unprepared (needed behind PgBouncer in transaction mode before 1.21:
/// a statement prepared on one server connection is unknown on the next). Every other query
/// item (`sslmode`) applies to every server.
public struct ServerList: Sendable, Equatable {
    public enum Target: String, Sendable, CaseIterable {
        case any, readWrite = "read-write", primary, readOnly = "read-only", standby, preferStandby = "prefer-standby"
    }

    /// Each server as a single-server URL.
    public let urls: [String]
    public let target: Target
    public let connectTimeout: Int?
    /// Whether statements a connection sends again are prepared once and reused (on unless
    /// `prepared_statements=off`).
    public let preparesStatements: Bool

    /// Parses `url`; throws ``DatabaseFailure/failed(code:message:)`` saying what is wrong with it.
    public init(url: String) throws {
        func bad(_ reason: String) -> DatabaseFailure { .failed(code: "bad-url", message: "the PostgreSQL URL \(reason)") }
        guard let schemeEnd = url.range(of: "://") else { throw bad("has no scheme (postgres://…)") }
        let scheme = url[..<schemeEnd.lowerBound]
        var rest = url[schemeEnd.upperBound...]
        var query = ""
        if let q = rest.firstIndex(of: "?") {
            query = String(rest[rest.index(after: q)...])
            rest = rest[..<q]
        }
        var path = ""
        var authority = rest
        // The user information may hold a '/' only percent-encoded, so the path starts at the
        // first '/' after the last '@'.
        let hostsStart = rest.lastIndex(of: "@").map { rest.index(after: $0) } ?? rest.startIndex
        if let slash = rest[hostsStart...].firstIndex(of: "/") {
            path = String(rest[slash...])
            authority = rest[..<slash]
        }
        let userInfo = hostsStart == rest.startIndex ? "" : String(authority[..<authority.index(before: hostsStart)]) + "@"
        let hosts = authority[hostsStart...].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard !hosts.isEmpty, hosts.allSatisfy({ !$0.isEmpty }) else { throw bad("names an empty server") }

        var kept: [String] = []
        var target = Target.any
        var timeout: Int?
        var prepares = true
        for item in query.split(separator: "&") where !item.isEmpty {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            let name = parts[0], value = parts.count > 1 ? parts[1] : ""
            switch name {
            case "target_session_attrs":
                guard let t = Target(rawValue: value) else {
                    throw bad("has target_session_attrs=\(value); use one of \(Target.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                target = t
            case "connect_timeout":
                guard let seconds = Int(value), (1...600).contains(seconds) else { throw bad("has connect_timeout=\(value); use 1 to 600 seconds") }
                timeout = seconds
            case "prepared_statements":
                guard value == "on" || value == "off" else { throw bad("has prepared_statements=\(value); use on or off") }
                prepares = value == "on"
            default: kept.append(String(item))
            }
        }
        let suffix = path + (kept.isEmpty ? "" : "?" + kept.joined(separator: "&"))
        self.urls = hosts.map { "\(scheme)://\(userInfo)\($0)\(suffix)" }
        self.target = target
        self.connectTimeout = timeout
        self.preparesStatements = prepares
    }

    /// The connection settings for each server.
    func configurations() throws -> [SQLPostgresConfiguration] {
        try urls.map { url in
            var configuration = try SQLPostgresConfiguration(url: url)
            if let connectTimeout { configuration.coreConfiguration.options.connectTimeout = .seconds(Int64(connectTimeout)) }
            return configuration
        }
    }

    /// Whether a server in this state is one the URL asks for.
    func accepts(inRecovery: Bool, readOnly: Bool) -> Bool {
        switch target {
        case .any: true
        case .readWrite: !readOnly
        case .primary: !inRecovery
        case .readOnly: readOnly
        case .standby, .preferStandby: inRecovery
        }
    }
}

/// Makes the pool's connections to the first server of a ``ServerList`` that answers and is of the
/// kind asked for, starting with the one the last connection went to. After a failover the old
/// primary refuses connections or comes back as a standby, so new connections find the new
/// primary by themselves; connections to the old one were closed with it.
struct ServerSelectingSource: ConnectionPoolSource {
    let servers: ServerList
    let configurations: [SQLPostgresConfiguration]
    private let lastGood = NIOLockedValueBox(0)
    private static let ids = NIOLockedValueBox(0)

    init(servers: ServerList) throws {
        self.servers = servers
        self.configurations = try servers.configurations()
    }

    func makeConnection(logger: Logger, on eventLoop: any EventLoop) -> EventLoopFuture<PostgresConnection> {
        eventLoop.makeFutureWithTask { try await connect(logger: logger, on: eventLoop) }
    }

    private func connect(logger: Logger, on eventLoop: any EventLoop) async throws -> PostgresConnection {
        let count = configurations.count
        let first = lastGood.withLockedValue { $0 }
        var fallback: PostgresConnection?
        var lastError: (any Error)?
        for offset in 0..<count {
            let index = (first + offset) % count
            let id = Self.ids.withLockedValue { $0 += 1; return $0 }
            let connection: PostgresConnection
            do {
                connection = try await PostgresConnection.connect(
                    on: eventLoop, configuration: configurations[index].coreConfiguration, id: id, logger: logger
                ).get()
            } catch {
                lastError = error
                continue
            }
            do {
                // Asked of a new connection in one statement (when there is anything to ask): whether the server is the kind
                // wanted, and — on a connection of Patron's own, not a pooler's — no JIT compilation
                // for its session. Patron's statements are short, and the planner compiles any
                // whose estimated cost passes `jit_above_cost`: a group of API purchases' read of
                // their members' qualifying history, estimated dear (a lookup per posting across
                // every month) and run in 0.3 ms, spent 60–78 ms compiling, and API purchases fell
                // from about 900/s to 240/s (#18). Through a pooler in transaction mode a session
                // setting would reach other clients' server connections and miss Patron's: there,
                // set `jit = off` on the server or in the pooler's `connect_query` (docs/scaling.md).
                let jit = servers.preparesStatements ? ", set_config('jit', 'off', false) AS jit" : ""
                if servers.target == .any && jit.isEmpty {
                    lastGood.withLockedValue { $0 = index }
                    return connection
                }
                let state = try await connection.query(
                    PostgresQuery(
                        unsafeSQL: "SELECT pg_is_in_recovery() AS recovery, current_setting('transaction_read_only') AS read_only" + jit),
                    logger: logger
                ).collect()
                guard servers.target != .any else {
                    lastGood.withLockedValue { $0 = index }
                    return connection
                }
                let row = state.first?.makeRandomAccess()
                let inRecovery = try row?["recovery"].decode(Bool.self) ?? false
                let readOnly = try (row?["read_only"].decode(String.self) ?? "off") == "on"
                if servers.accepts(inRecovery: inRecovery, readOnly: readOnly) {
                    lastGood.withLockedValue { $0 = index }
                    if let fallback { try? await fallback.close().get() }
                    return connection
                }
                // prefer-standby takes a primary when no standby answers.
                if servers.target == .preferStandby && fallback == nil { fallback = connection; continue }
                lastError = DatabaseFailure.unavailable("server \(index + 1) of \(count) is not \(servers.target.rawValue)")
                try? await connection.close().get()
            } catch {
                lastError = error
                try? await connection.close().get()
            }
        }
        if let fallback { return fallback }
        if count > 1 || servers.target != .any {
            throw DatabaseFailure.unavailable(
                "none of the \(count) servers is \(servers.target.rawValue)\(lastError.map { " (last: \(String(describing: $0).prefix(200)))" } ?? "")")
        }
        throw lastError ?? DatabaseFailure.unavailable("no server answered")
    }
}
