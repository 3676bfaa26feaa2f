import Analytics
import Campaigns
import Foundation
import Hummingbird
import Logging
import Loyalty
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
    var configuration = ServiceGroupConfiguration(
        services: [.init(service: application)] + jobs.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint],
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

/// The background jobs of one server: hourly points expiry, the nightly scoring (02:00 UTC, and at
/// start when the last run is a day old), and the campaign job every minute (due waves prepared,
/// the outbox sent, responses attributed). Each pass is idempotent and its claims exclusive, so
/// servers side by side may run them at once. On graceful shutdown the jobs stop between passes.
public struct BackgroundJobs: Service {
    let patron: Patron
    let logger: Logger

    public init(patron: Patron, logger: Logger) {
        self.patron = patron
        self.logger = logger
    }

    public func run() async throws {
        let patron = patron, logger = logger
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    await Self.every(.seconds(3600)) {
                        let expired = try await patron.loyalty.expire()
                        if !expired.isEmpty { logger.info("expiry job: \(expired.count) lots expired") }
                    } failed: { logger.error("expiry job failed: \($0)") }
                }
                group.addTask {
                    if let last = try? await patron.intelligence.store.latestRun(), last.ranAt > Date().addingTimeInterval(-86_400) {
                    } else if (try? await patron.isEmpty()) == false {
                        await Self.score(patron, logger)
                    }
                    while !Task.isCancelled {
                        let now = Date().timeIntervalSince1970
                        let next = ((now - 7_200) / 86_400).rounded(.down) * 86_400 + 86_400 + 7_200
                        guard (try? await Task.sleep(for: .seconds(next - now))) != nil else { return }
                        await Self.score(patron, logger)
                    }
                }
                group.addTask {
                    await Self.every(.seconds(60)) {
                        let r = try await patron.runCampaigns()
                        if r.sent + r.bounced + r.retried > 0 {
                            logger.info("campaign job: \(r.sent) sent, \(r.bounced) bounced, \(r.retried) to retry")
                        }
                    } failed: { logger.error("campaign job failed: \($0)") }
                }
            }
        }
    }

    /// Runs `pass` now and then every `interval` until cancelled; a failed pass is logged and the next one runs on time.
    static func every(_ interval: Duration, _ pass: () async throws -> Void, failed: (String) -> Void) async {
        while !Task.isCancelled {
            do {
                try await pass()
            } catch {
                failed("\(error)")
            }
            guard (try? await Task.sleep(for: interval)) != nil else { return }
        }
    }

    static func score(_ patron: Patron, _ logger: Logger) async {
        do {
            let run = try await patron.runNightly()
            logger.info("scoring job: \(run.customers) customers scored in \(Int(run.milliseconds.values.reduce(0, +))) ms")
        } catch {
            logger.error("scoring job failed: \(error)")
        }
    }
}

/// ServiceLifecycle logs each service it runs by its description: the name only, never the
/// settings (tokens, SMTP credentials) the service holds.
extension BackgroundJobs: CustomStringConvertible {
    public var description: String { "BackgroundJobs" }
}
