import Foundation
import Testing

@testable import WebConsole

/// The console's customer import stages the mapped file in the temporary directory while it runs.
@Suite struct ImportStagingTests {
    @Test("a staged import file holds the mapped text and is readable by Patron's own user only (it carries contact details)")
    func ownerOnly() throws {
        let text = "first_name,email\nÉlise,elise@example.com\n"
        let path = try ImportPages.staged(text)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == text)
        let permissions = try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)
        #expect(permissions.intValue & 0o777 == 0o600, "permissions \(String(permissions.intValue, radix: 8))")
    }
}
