import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Files tests write (CSV uploads, exports), in a directory of this test process's own that is
/// removed when the process exits, so that a test that stops half-way leaves nothing behind
/// either (a CI machine that is reused would otherwise fill its temporary directory run by run).
public enum TestFiles {
    static let directory: String = {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("patron-tests-\(getpid())").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(atPath: TestFiles.directory) }
        return path
    }()

    /// A new path, `<name>-<uuid><suffix>`, in this process's directory; nothing is created.
    public static func path(_ name: String, suffix: String = ".csv") -> String {
        directory + "/\(name)-\(UUID().uuidString)\(suffix)"
    }
}
