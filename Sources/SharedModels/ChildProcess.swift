#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Synchronization

/// A program run as a child process through `posix_spawn`, with its standard input and output
/// (and, when asked, its errors) as pipes.
///
/// Why not Foundation's `Process`: on Linux (swift-corelibs-foundation in Swift 6.3) `run()` lists
/// `/proc/self/fd` to find the descriptors to close in the child and copies each entry's whole
/// 256-byte name; an entry that ends glibc's read buffer before an unmapped page makes that copy
/// read past it, and the parent crashes (swift-corelibs-foundation#5472). A process with many
/// descriptors open met it: the test suite, with its databases and sockets, crashed in CI inside
/// `Process.run()`. Here the child closes every descriptor but its three standard ones itself
/// (glibc's `posix_spawn_file_actions_addclosefrom_np`), and nothing is listed.
public final class ChildProcess: Sendable {
    /// Where a program could not be started.
    public struct LaunchFailure: Error, CustomStringConvertible {
        public let executable: String
        public let reason: String
        public var description: String { "could not run \(executable): \(reason)" }
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later), which its headers
    /// declare for GNU sources only; nil where the C library lacks it (descriptors are then
    /// inherited as they are).
    private static let closeFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()

    public let pid: pid_t
    /// Writes to the child's standard input; closing it is the child's end of input.
    public let input: FileHandle
    /// Reads the child's standard output (and its standard error when merged).
    public let output: FileHandle

    /// Starts `executable` (a path) with `arguments`; `environment` nil passes this process's own.
    public init(executable: String, arguments: [String], environment: [String: String]? = nil, mergingErrors: Bool = false) throws {
        func failure(_ what: String, _ code: Int32) -> LaunchFailure {
            LaunchFailure(executable: executable, reason: "\(what): \(String(cString: strerror(code)))")
        }
        var stdinPipe: [Int32] = [-1, -1], stdoutPipe: [Int32] = [-1, -1]
        guard pipe(&stdinPipe) == 0 else { throw failure("pipe", errno) }
        guard pipe(&stdoutPipe) == 0 else {
            let code = errno
            close(stdinPipe[0])
            close(stdinPipe[1])
            throw failure("pipe", code)
        }
        // Close-on-exec as well, for children started by other means.
        for fd in stdinPipe + stdoutPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdinPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, stdoutPipe[1], 1)
        if mergingErrors { posix_spawn_file_actions_adddup2(&actions, stdoutPipe[1], 2) }
        // Every other descriptor is closed in the child: none of this process's files and sockets
        // stay open in it, and no other child's pipe end either (an inherited write end would
        // keep that child's reader from ever seeing the end of its input).
        _ = Self.closeFrom?(&actions, 3)

        // The child starts with no signal blocked and the usual signals at their defaults, whatever
        // this process's threads block or ignore (an event loop ignores SIGPIPE; a blocked SIGTERM
        // or SIGALRM would keep a server from stopping, or pgbench's -T from ending).
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), defaults = sigset_t()
        sigemptyset(&none)
        sigemptyset(&defaults)
        for signal in [SIGPIPE, SIGTERM, SIGINT, SIGALRM, SIGHUP] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let pairs = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        let envp = pairs.map { strdup($0) } + [nil]
        defer {
            for pointer in argv + envp { free(pointer) }
        }
        var child: pid_t = 0
        let code = posix_spawn(&child, executable, &actions, &attributes, argv, envp)
        close(stdinPipe[0])
        close(stdoutPipe[1])
        guard code == 0 else {
            close(stdinPipe[1])
            close(stdoutPipe[0])
            throw failure("spawn", code)
        }
        pid = child
        input = FileHandle(fileDescriptor: stdinPipe[1], closeOnDealloc: true)
        output = FileHandle(fileDescriptor: stdoutPipe[0], closeOnDealloc: true)
    }

    /// The child's exit status once it has been reaped (by `wait`, `hasExited` or `terminate`).
    private let status = Mutex<Int32?>(nil)

    /// Waits for the child to end: its exit status, or 128 + the signal that ended it.
    @discardableResult
    public func wait() -> Int32 { reap(blocking: true) ?? -1 }

    /// Whether the child has ended (without waiting for it).
    public var hasExited: Bool { reap(blocking: false) != nil }

    /// Asks the child to stop (SIGTERM) and, if it has not within `grace`, ends it (SIGKILL);
    /// returns its exit status.
    @discardableResult
    public func terminate(grace: Duration = .seconds(10)) -> Int32 {
        if let status = reap(blocking: false) { return status }
        kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + grace
        while ContinuousClock.now < deadline {
            if let status = reap(blocking: false) { return status }
            usleep(50_000)
        }
        kill(pid, SIGKILL)
        return wait()
    }

    private func reap(blocking: Bool) -> Int32? {
        status.withLock { known in
            if let known { return known }
            var raw: Int32 = 0
            while true {
                let reaped = waitpid(pid, &raw, blocking ? 0 : WNOHANG)
                if reaped == pid { break }
                if reaped == 0 { return nil }
                guard errno == EINTR else {
                    known = -1
                    return -1
                }
            }
            let signal = raw & 0x7f
            known = signal == 0 ? (raw >> 8) & 0xff : 128 + signal
            return known
        }
    }

    /// Runs `executable` to its end: its exit status and everything it wrote (errors included).
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) -> (status: Int32, output: String) {
        do {
            let child = try ChildProcess(executable: executable, arguments: arguments, environment: environment, mergingErrors: true)
            try? child.input.close()
            let data = child.output.readDataToEndOfFile()
            return (child.wait(), String(decoding: data, as: UTF8.self))
        } catch {
            return (-1, "\(error)")
        }
    }
}
