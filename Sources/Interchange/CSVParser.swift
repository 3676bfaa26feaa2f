import Foundation

/// A streaming RFC 4180 CSV reader over a file: quoted fields (with `""` escapes, commas and line
/// breaks inside), LF or CRLF line ends, UTF-8 text. It reads 1 MiB at a time, so memory stays
/// flat whatever the file's size, and it knows the line each record starts on.
///
/// Written for speed: CSV.swift decodes every character through a generic iterator and parsed
/// about 200,000 rows a second here, which capped `patron import` well below its target.
struct CSVParser {
    struct Failure: Error, CustomStringConvertible {
        let line: Int
        let reason: String
        var description: String { "line \(line): \(reason)" }
    }

    /// Where the bytes come from: a file, or bytes in memory (the fuzz target's input).
    private enum Source {
        case file(FileHandle)
        case bytes([UInt8], offset: Int)
    }

    private var source: Source
    /// How much is read at a time; also the longest record.
    let chunkSize: Int
    private var buffer: [UInt8] = []
    private var position = 0
    private var atEnd = false
    /// The physical line of the byte at `position`.
    private var line = 1
    /// The line the record last returned starts on.
    private(set) var recordLine = 0

    static let chunkSize = 1 << 20

    init(path: String) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw Failure(line: 0, reason: "cannot open the file") }
        self.source = .file(handle)
        self.chunkSize = Self.chunkSize
    }

    /// Reads `bytes` `chunkSize` at a time, as if they were a file.
    init(bytes: [UInt8], chunkSize: Int = Self.chunkSize) {
        self.source = .bytes(bytes, offset: 0)
        self.chunkSize = max(1, chunkSize)
    }

    /// The next record's fields, or nil at the end of the file. Blank lines are skipped.
    mutating func next() throws -> [String]? {
        while true {
            if position >= buffer.count {
                if atEnd { return nil }
                try refill()
                continue
            }
            if let (fields, consumed, lines) = try parseRecord(from: position) {
                recordLine = line
                position = consumed
                line += lines
                if fields.count == 1 && fields[0].isEmpty { continue }
                return fields
            }
            if atEnd {
                throw Failure(line: line, reason: "a quoted field is not closed before the end of the file")
            }
            // One record may be at most a chunk long: an unclosed quote is found after reading
            // 1 MiB past it, not by re-parsing an ever-growing buffer (which took quadratic time).
            if buffer.count - position >= chunkSize {
                throw Failure(line: line, reason: "a record is longer than \(chunkSize) bytes (is a quote not closed?)")
            }
            try refill()
        }
    }

    private mutating func refill() throws {
        if position > 0 {
            buffer.removeFirst(position)
            position = 0
        }
        switch source {
        case .file(let handle):
            let data = try handle.read(upToCount: chunkSize) ?? Data()
            if data.isEmpty { atEnd = true } else { buffer.append(contentsOf: data) }
        case .bytes(let bytes, let offset):
            let end = min(bytes.count, offset + chunkSize)
            if offset >= end { atEnd = true } else { buffer.append(contentsOf: bytes[offset..<end]) }
            source = .bytes(bytes, offset: end)
        }
    }

    /// Parses one record starting at `start`; nil when the buffer ends before the record does
    /// (and more of the file remains).
    private func parseRecord(from start: Int) throws -> (fields: [String], end: Int, lines: Int)? {
        var fields: [String] = []
        fields.reserveCapacity(16)
        var index = start
        var lines = 0
        let count = buffer.count
        return try buffer.withUnsafeBufferPointer { bytes in
            while true {
                if index < count && bytes[index] == UInt8(ascii: "\"") {
                    // Quoted field.
                    var field: [UInt8] = []
                    index += 1
                    while true {
                        guard index < count else {
                            if atEnd { throw Failure(line: line, reason: "a quoted field is not closed before the end of the file") }
                            return nil
                        }
                        let byte = bytes[index]
                        if byte == UInt8(ascii: "\"") {
                            if index + 1 < count && bytes[index + 1] == UInt8(ascii: "\"") {
                                field.append(byte)
                                index += 2
                                continue
                            }
                            if index + 1 >= count && !atEnd { return nil }
                            index += 1
                            break
                        }
                        if byte == UInt8(ascii: "\n") { lines += 1 }
                        field.append(byte)
                        index += 1
                    }
                    fields.append(try Self.text(field[...], line: line + lines))
                } else {
                    let fieldStart = index
                    while index < count, bytes[index] != UInt8(ascii: ","), bytes[index] != UInt8(ascii: "\n") { index += 1 }
                    if index >= count && !atEnd { return nil }
                    var fieldEnd = index
                    if fieldEnd > fieldStart && bytes[fieldEnd - 1] == UInt8(ascii: "\r") && (index >= count || bytes[index] == UInt8(ascii: "\n")) {
                        fieldEnd -= 1
                    }
                    fields.append(try Self.text(UnsafeBufferPointer(rebasing: bytes[fieldStart..<fieldEnd]), line: line + lines))
                }
                // After a field: a comma, a line end, or the end of the file.
                if index >= count { return (fields, index, lines) }
                switch bytes[index] {
                case UInt8(ascii: ","):
                    index += 1
                case UInt8(ascii: "\r") where index + 1 < count && bytes[index + 1] == UInt8(ascii: "\n"):
                    return (fields, index + 2, lines + 1)
                case UInt8(ascii: "\r") where index + 1 >= count && !atEnd:
                    return nil
                case UInt8(ascii: "\n"):
                    return (fields, index + 1, lines + 1)
                default:
                    throw Failure(line: line + lines, reason: "unexpected character after a quoted field")
                }
            }
        }
    }

    private static func text<C: Collection>(_ bytes: C, line: Int) throws -> String where C.Element == UInt8 {
        guard let text = String(validating: bytes, as: UTF8.self) else { throw Failure(line: line, reason: "the text is not UTF-8") }
        return text
    }
}
