import Foundation
import SharedModels
import TestSupport
import Testing

@testable import Interchange

@Suite("The streaming CSV parser")
struct CSVParserTests {
    func records(_ text: String, chunk: Int? = nil) throws -> [(line: Int, fields: [String])] {
        let path = TestFiles.path("csv")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        var parser = try CSVParser(path: path)
        var result: [(Int, [String])] = []
        while let fields = try parser.next() { result.append((parser.recordLine, fields)) }
        return result
    }

    @Test("Quoted fields keep commas, quotes and line breaks, and lines are counted from the record's start")
    func quoting() throws {
        let parsed = try records("a,b,c\r\n\"x, y\",\"say \"\"hi\"\"\",\"two\nlines\"\n\n1,,3")
        #expect(parsed.map(\.fields) == [["a", "b", "c"], ["x, y", "say \"hi\"", "two\nlines"], ["1", "", "3"]])
        #expect(parsed.map(\.line) == [1, 2, 5])
    }

    @Test("A quote left open is an error naming its line")
    func unterminated() {
        #expect(throws: CSVParser.Failure.self) { try records("a\n\"open,1\n2\n") }
    }

    @Test("Regression: an unclosed quote in a large file fails after one record's worth of bytes, not in quadratic time")
    func unclosedQuoteIsCheap() throws {
        let path = TestFiles.path("csv")
        let body = Data("a\n\"".utf8) + Data(repeating: UInt8(ascii: "x"), count: 16 << 20)
        FileManager.default.createFile(atPath: path, contents: body)
        defer { try? FileManager.default.removeItem(atPath: path) }
        var parser = try CSVParser(path: path)
        var failure: CSVParser.Failure?
        do { while try parser.next() != nil {} } catch let error as CSVParser.Failure { failure = error }
        #expect(failure?.line == 2)
        #expect(failure?.reason.contains("longer than") == true)
    }

    @Test("Regression: exported cells that a spreadsheet would run as formulas are neutralised; numbers are not")
    func formulaInjection() {
        #expect(CSVText.field("=HYPERLINK(\"http://evil\")") == "\"'=HYPERLINK(\"\"http://evil\"\")\"")
        #expect(CSVText.field("@SUM(A1)") == "'@SUM(A1)")
        #expect(CSVText.field("+1 555") == "'+1 555")
        #expect(CSVText.field("-12.50") == "-12.50")
        #expect(CSVText.field("Ann") == "Ann")
    }

    @Test("Text that is not UTF-8 is refused")
    func notUTF8() throws {
        let path = TestFiles.path("csv")
        FileManager.default.createFile(atPath: path, contents: Data([0x61, 0x0A, 0xFF, 0xFE, 0x0A]))
        var parser = try CSVParser(path: path)
        _ = try parser.next()
        #expect(throws: CSVParser.Failure.self) { _ = try parser.next() }
    }

    @Test("Records that straddle the 1 MiB read boundary come out whole")
    func chunkBoundaries() throws {
        var text = ""
        var expected: [[String]] = []
        var n = 0
        while text.utf8.count < CSVParser.chunkSize * 2 + 5000 {
            let row = ["id\(n)", "\"quoted, \(n)\"", String(repeating: "x", count: n % 97)]
            expected.append(["id\(n)", "quoted, \(n)", String(repeating: "x", count: n % 97)])
            text += row.joined(separator: ",") + (n % 3 == 0 ? "\r\n" : "\n")
            n += 1
        }
        let parsed = try records(text)
        #expect(parsed.count == expected.count)
        #expect(parsed.map(\.fields) == expected)
        #expect(parsed.last?.line == expected.count)
    }

    @Test(
        "An exported field always parses back to itself",
        arguments: ["plain", "with, comma", "with \"quotes\"", "line\nbreak", "", "  spaced  ", "ünïcödé"])
    func escapeRoundTrip(field: String) throws {
        let parsed = try records(CSVExporter.line(["a", field, "z"]))
        #expect(parsed.first?.fields == ["a", field, "z"])
    }
}
