import Foundation
import SharedModels
import Hummingbird
import Logging
import ServiceLifecycle
import UnixSignals

#if canImport(Glibc)
    import Glibc
#endif

/// How long the server waits for clients, and for itself when asked to stop.
public struct ServerLimits: Sendable, Equatable {
    /// A connection that sends no complete request for this long is closed (idle keep-alive
    /// connections, and clients that stop half-way through a request's head).
    public var idleTimeout: Duration
    /// After SIGTERM or SIGINT the server stops accepting connections and finishes the requests
    /// in flight for at most this long, then cancels what is left and exits.
    public var shutdownGrace: Duration

    public init(idleTimeout: Duration = .seconds(30), shutdownGrace: Duration = .seconds(10)) {
        self.idleTimeout = idleTimeout
        self.shutdownGrace = shutdownGrace
    }

    /// From `PATRON_IDLE_TIMEOUT_SECONDS` and `PATRON_SHUTDOWN_GRACE_SECONDS` (whole seconds, 1…3600).
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ServerLimits {
        func seconds(_ name: String, default value: Int) throws -> Duration {
            guard let text = environment[name] else { return .seconds(value) }
            guard let number = Int(text), (1...3600).contains(number) else {
                throw ConfigurationError(flag: name, reason: "must be a whole number of seconds from 1 to 3600, not '\(text)'")
            }
            return .seconds(number)
        }
        return ServerLimits(
            idleTimeout: try seconds("PATRON_IDLE_TIMEOUT_SECONDS", default: 30),
            shutdownGrace: try seconds("PATRON_SHUTDOWN_GRACE_SECONDS", default: 10))
    }
}

/// Runs the server and the background jobs in one service group until SIGTERM or SIGINT: then
/// the server stops accepting, in-flight requests get ``ServerLimits/shutdownGrace`` to finish,
/// the jobs stop between runs, and whatever is still running is cancelled.
public func runServer(_ application: some ApplicationProtocol, jobs: [any Service], limits: ServerLimits, logger: Logger) async throws {
    raiseOpenFileLimit(logger: logger)
    try await runServices([application] + jobs, limits: limits, logger: logger)
}

/// Runs `services` in one service group until SIGTERM or SIGINT (a worker: the job runner alone).
public func runServices(_ services: [any Service], limits: ServerLimits, logger: Logger) async throws {
    var configuration = ServiceGroupConfiguration(
        services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint],
        logger: logger)
    configuration.maximumGracefulShutdownDuration = limits.shutdownGrace
    configuration.maximumCancellationDuration = .seconds(5)
    try await ServiceGroup(configuration: configuration).run()
}

/// Lifts the soft limit on open files to the hard limit, so that many clients (or many idle
/// sockets, until the idle timeout closes them) do not starve the server of descriptors.
func raiseOpenFileLimit(logger: Logger) {
    #if canImport(Glibc)
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 {
            logger.debug("open file limit raised", metadata: ["limit": "\(limit.rlim_cur)"])
        }
    #endif
}

