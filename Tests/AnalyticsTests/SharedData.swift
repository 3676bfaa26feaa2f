import Foundation

/// The public data sets in `../shared/data` (never copied into the repository).
enum SharedData {
    static let directory: URL = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        var candidates = [root.deletingLastPathComponent().appendingPathComponent("shared/data")]
        if let explicit = ProcessInfo.processInfo.environment["PATRON_SHARED_DATA"] { candidates.insert(URL(fileURLWithPath: explicit), at: 0) }
        candidates.append(URL(fileURLWithPath: "/work/shared/data"))
        return candidates.first { FileManager.default.fileExists(atPath: $0.appendingPathComponent("README.md").path) } ?? candidates[0]
    }()

    static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    static func lines(_ name: String) throws -> [Substring] {
        try String(contentsOfFile: path(name), encoding: .utf8).split(whereSeparator: \.isNewline)
    }

    /// Rows of a CSV with a header and no quoting, as dictionaries.
    static func table(_ name: String) throws -> [[String: String]] {
        let all = try lines(name)
        let header = all[0].split(separator: ",").map(String.init)
        return all.dropFirst().map { line in
            Dictionary(uniqueKeysWithValues: zip(header, line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)))
        }
    }
}
