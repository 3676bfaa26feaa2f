import Foundation

/// A write the request no longer waits for — the database could not take it when the request
/// ended, and the answer must not wait for the database to come back — tried again in the
/// background with growing pauses (0.1 s, doubling to 1 s) until it is taken or `deadline` passes.
public enum BackgroundRetry {
    public static func untilWritten(by deadline: Date, givingUp: (@Sendable () -> Void)? = nil, _ write: @escaping @Sendable () async throws -> Void) {
        Task.detached {
            var pause: UInt64 = 100_000_000
            while Date() < deadline {
                try? await Task.sleep(nanoseconds: pause)
                if (try? await write()) != nil { return }
                pause = min(pause * 2, 1_000_000_000)
            }
            givingUp?()
        }
    }
}
