// libFuzzer target: campaign templates as Patron prepares and renders them (Mustache, text and
// HTML), with a recipient's fields. Any template renders or is refused. Built with
// swift-mustache's sources by scripts/fuzz.sh.
import Foundation
import Mustache

nonisolated(unsafe) let values: [String: Any] = [
    "first_name": "Ann", "last_name": "Lee", "name": "Ann Lee", "email": "ann@example.com", "tier": "Gold", "points": 1200,
    "recommendations": ["wine", "cheese"], "offer_code": "X1", "campaign": "Spring", "track": "http://t/1", "unsubscribe": "http://u/1",
    "open": "http://o/1",
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let source = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    for html in [false, true] {
        if let template = try? MustacheTemplate(string: (html ? "" : "{{% CONTENT_TYPE: TEXT}}") + source) {
            _ = template.render(values)
        }
    }
    return 0
}
