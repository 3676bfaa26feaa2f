import Foundation
import SQLKit
import SharedModels
import Synchronization

/// Group commit over an SQLite writer connection (either driver): a group of writes in one transaction, each in its
/// own savepoint, and one `COMMIT`.
enum GroupCommit {
    typealias Job = @Sendable (any SQLDatabase) async throws -> Void

    /// At most this many writes share one commit, so no caller waits behind an unbounded group.
    static let maximumGroup = 256

    /// Runs `body` as one write of the next group and returns its result.
    static func write<T: Sendable>(
        on commits: Coalescer<Job, Void>, _ body: @escaping @Sendable (any SQLDatabase) async throws -> T
    ) async throws -> T {
        let result = ResultBox<T>()
        try await commits.submit { db in result.value = try await body(db) }
        return result.value!
    }

    static func coalescer(writer: any SQLDatabase) -> Coalescer<Job, Void> {
        Coalescer(maximumGroup: maximumGroup) { group in
            var outcomes: [Result<Void, any Error>] = []
            do {
                try await writer.raw("BEGIN IMMEDIATE").run()
                for job in group {
                    if group.count == 1 {
                        outcomes.append(await Result(catching: { try await job(writer) }))
                        continue
                    }
                    try await writer.raw("SAVEPOINT job").run()
                    do {
                        try await job(writer)
                        try await writer.raw("RELEASE job").run()
                        outcomes.append(.success(()))
                    } catch {
                        try await writer.raw("ROLLBACK TO job").run()
                        try await writer.raw("RELEASE job").run()
                        outcomes.append(.failure(error))
                    }
                }
                if outcomes.contains(where: { if case .success = $0 { true } else { false } }) {
                    try await writer.raw("COMMIT").run()
                } else {
                    try await writer.raw("ROLLBACK").run()
                }
            } catch {
                // The transaction itself failed (BEGIN, a savepoint or COMMIT): nothing of the group was kept.
                try? await writer.raw("ROLLBACK").run()
                outcomes = group.map { _ in .failure(error) }
            }
            return outcomes
        }
    }
}

extension Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}

/// Holds a write's result between the writer task that computes it and the caller it resumes
/// (the continuation's resumption orders the two accesses).
private final class ResultBox<T>: @unchecked Sendable {
    var value: T?
}

/// How both SQLite drivers run a new connection's set-up statements (`PRAGMA journal_mode=WAL`
/// and the rest): again, every 10 ms for up to about ten seconds (the busy timeout's span), while
/// SQLite answers "database is locked" at once. Switching a new file to WAL takes an exclusive
/// lock, and when another process is switching it too SQLite refuses one of them without calling
/// its busy handler, which would deadlock (`MigrationTests`, servers starting together: 1 run in
/// 12 through GRDB before). `failure` is the driver's naming of its errors.
public enum SQLiteSetUp {
    static let attempts = 1_000
    static let pause: UInt32 = 10_000

    public static func retrying(_ failure: (any Error) -> any Error, _ body: () throws -> Void) throws {
        for attempt in 1... {
            do { return try body() } catch where again(after: failure(error), attempt: attempt) { usleep(pause) }
        }
    }

    public static func retrying(_ failure: (any Error) -> any Error, _ body: () async throws -> Void) async throws {
        for attempt in 1... {
            do { return try await body() } catch where again(after: failure(error), attempt: attempt) {
                try await Task.sleep(nanoseconds: UInt64(pause) * 1_000)
            }
        }
    }

    static func again(after failure: any Error, attempt: Int) -> Bool {
        guard case .contention = failure as? DatabaseFailure else { return false }
        return attempt < attempts
    }
}

/// How both SQLite drivers reach their file: reads go round-robin to reader sessions (WAL lets
/// them run beside the writer), writes to the writer through ``GroupCommit``, and every error on
/// the way out is named by the driver's `failure`.
public final class SQLiteAccess: Sendable {
    private let readers: [any SQLDatabase]
    private let commits: Coalescer<GroupCommit.Job, Void>
    private let failure: @Sendable (any Error) -> any Error
    private let nextReader = Atomic<UInt>(0)

    public init(writer: any SQLDatabase, readers: [any SQLDatabase], failure: @escaping @Sendable (any Error) -> any Error) {
        precondition(!readers.isEmpty, "an SQLite file is read through at least one reader")
        self.readers = readers
        self.commits = GroupCommit.coalescer(writer: writer)
        self.failure = failure
    }

    public func read<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        let index = Int(nextReader.wrappingAdd(1, ordering: .relaxed).newValue % UInt(readers.count))
        do {
            return try await body(readers[index])
        } catch {
            throw failure(error)
        }
    }

    public func write<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        do {
            return try await GroupCommit.write(on: commits, body)
        } catch {
            throw failure(error)
        }
    }
}

/// A database in one SQLite file, whichever driver serves it: its reads and writes are its
/// ``SQLiteAccess``'s.
public protocol SQLiteFile: Database {
    var access: SQLiteAccess { get }
}

extension SQLiteFile {
    public func read<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await access.read(body)
    }

    public func write<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        try await access.write(body)
    }
}
