// libFuzzer target: the parsers of dates, money amounts, emails and cursors that read text from
// outside (CSV cells, API fields, query strings). Any text is read or refused, never trapped;
// what is read prints back to a value that reads the same. Built with Sources/SharedModels.
import Foundation
import SharedModels

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    if let date = LocalDate(text) {
        precondition(LocalDate(date.description) == date, "a date does not read back: \(text)")
        _ = date.firstOfMonth(addingMonths: Int(size % 25) - 12)
    }
    for currency in ["USD", "JPY", "KWD"] {
        if let minor = Money.parseMinorUnits(Substring(text), currency: currency) {
            precondition(abs(minor) <= Money.maximumMinorUnits, "an amount beyond the limit was read: \(text)")
        }
    }
    if let email = EmailAddress(text) { precondition(EmailAddress(email.value) == email, "an email does not read back") }
    if let cursor = Cursor(text) { precondition(Cursor(cursor.encoded) == cursor, "a cursor does not read back") }
    return 0
}
