// libFuzzer target: the CSV reader. Any bytes give records or a Failure naming a line; read
// 1 MiB at a time or a few bytes at a time (the first input byte picks how many), the records
// are the same. Built with Sources/Interchange/CSVParser.swift by scripts/fuzz.sh.
import Foundation

func records(_ bytes: [UInt8], chunk: Int) -> (records: [[String]], lines: [Int], failure: String?) {
    var parser = CSVParser(bytes: bytes, chunkSize: chunk)
    var all: [[String]] = [], lines: [Int] = []
    do {
        while let record = try parser.next() {
            all.append(record)
            lines.append(parser.recordLine)
        }
        return (all, lines, nil)
    } catch {
        return (all, lines, "\(error)")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let chunk = Int(data[0] % 16) + 1
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let whole = records(bytes, chunk: 1 << 20)
    let pieces = records(bytes, chunk: chunk)
    // A record longer than the small chunk is refused there by design; otherwise both agree.
    if pieces.failure?.contains("longer than") != true {
        precondition(whole.records == pieces.records && whole.lines == pieces.lines, "chunked reading changed the records")
        precondition((whole.failure == nil) == (pieces.failure == nil), "chunked reading changed the outcome")
    }
    return 0
}
