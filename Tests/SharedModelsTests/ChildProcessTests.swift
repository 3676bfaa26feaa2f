import Foundation
import SharedModels
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Children started while the parent holds many descriptors — where Foundation's `Process.run()`
/// crashed the suite in CI (a read past glibc's directory buffer while it listed `/proc/self/fd`).
@Suite struct ChildProcessTests {
    /// Foundation's `Process.run()` crashed under a heavier load of this kind (a bad pointer in
    /// `memcpy`, as the suite did in CI): 4 tasks × 800 starts beside 1,300 descriptors and the
    /// same churn, in 3 runs of 3 on this machine. The lanes are threads of their own: starting
    /// and waiting for children blocks, and on the two threads Swift's tasks share it stalled
    /// the tests beside this one.
    @Test("Regression: 4 × 200 children started at once beside 1,300 open descriptors and a churning heap all run; each sees only its own three")
    func manyDescriptors() async throws {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        // 1,300, or an eighth of what this process may open: the other tests run beside this one.
        let descriptors = (0..<min(1_300, Int(limit.rlim_cur / 8))).map { _ in open("/dev/null", O_RDONLY) }
        defer { for fd in descriptors where fd >= 0 { close(fd) } }
        #expect(descriptors.allSatisfy { $0 >= 0 }, "could not open \(descriptors.count) descriptors")
        let failures = Mutex<[String]>([])
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let lanes = DispatchGroup()
            for lane in 0..<4 {
                lanes.enter()
                Thread {
                    defer { lanes.leave() }
                    var heap: [[UInt8]] = []
                    for n in 0..<200 {
                        // Descriptors and allocations come and go, so the listing's buffer lands at
                        // many places: where Foundation's copy ran past the end of a mapped page.
                        let fd = open("/dev/null", O_RDONLY)
                        defer { if n % 2 == 0 { close(fd) } }
                        heap.append([UInt8](repeating: 1, count: Int.random(in: 1...60_000)))
                        if heap.count > 50 { heap.removeFirst(Int.random(in: 1...50)) }
                        let (status, output) = ChildProcess.run("/bin/sh", ["-c", "echo \(lane):\(n); ls /proc/self/fd"])
                        let lines = output.split(separator: "\n")
                        // 0, 1, 2 and the directory ls reads: none of the parent's descriptors.
                        guard status == 0, lines.first == "\(lane):\(n)"[...], lines.count <= 5 else {
                            failures.withLock { $0.append("child \(lane):\(n) ended \(status) with \(lines.count - 1) descriptors: \(output.prefix(200))") }
                            return
                        }
                    }
                }.start()
            }
            lanes.notify(queue: .global()) { done.resume() }
        }
        #expect(failures.withLock { $0 } == [])
    }

    @Test("a child reads its input to the end once the parent closes it; exit status and signals are reported")
    func inputAndStatus() throws {
        let cat = try ChildProcess(executable: "/bin/cat", arguments: [])
        cat.input.write(Data("one\ntwo\n".utf8))
        try cat.input.close()
        #expect(String(decoding: cat.output.readDataToEndOfFile(), as: UTF8.self) == "one\ntwo\n")
        #expect(cat.wait() == 0)
        #expect(ChildProcess.run("/bin/sh", ["-c", "exit 3"]).status == 3)
        #expect(ChildProcess.run("/bin/sh", ["-c", "kill -9 $$"]).status == 128 + 9)
        #expect(ChildProcess.run("/bin/sh", ["-c", "echo oops >&2"]).output == "oops\n", "errors are merged into the output")
        #expect(ChildProcess.run("/bin/sh", ["-c", "echo $PATRON_X"], environment: ["PATRON_X": "given"]).output == "given\n")
        #expect(ChildProcess.run("/no/such/program", []).status == -1)
    }

    /// A child inherited the signals its starting thread blocked: a server started by `bench
    /// servers` from a thread blocking SIGTERM could not be stopped but by SIGKILL (and pgbench's
    /// `-T` never ended, for the same reason with SIGALRM).
    @Test("Regression: a child starts with no signal blocked, whatever the starting thread blocks; terminate() stops it with SIGTERM")
    func signalsUnblocked() async throws {
        let status = await withCheckedContinuation { (done: CheckedContinuation<Int32, Never>) in
            Thread {
                var blocked = sigset_t(), previous = sigset_t()
                sigemptyset(&blocked)
                sigaddset(&blocked, SIGTERM)
                pthread_sigmask(SIG_BLOCK, &blocked, &previous)
                defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
                guard let sleeper = try? ChildProcess(executable: "/bin/sleep", arguments: ["30"]) else { return done.resume(returning: -1) }
                #expect(!sleeper.hasExited)
                done.resume(returning: sleeper.terminate(grace: .seconds(5)))
            }.start()
        }
        #expect(status == 128 + SIGTERM, "ended by SIGTERM, not by the SIGKILL after the grace")
    }
}
