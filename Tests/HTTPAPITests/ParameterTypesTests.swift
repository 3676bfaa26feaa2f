import Foundation
import HTTPAPI
import Testing

@Suite("Parameters declared in the OpenAPI document")
struct ParameterTypesTests {
    /// The document the server serves, read from the source tree.
    static let specPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Sources/App/Resources/openapi.yaml")
        .standardized.path

    @Test("every operation's path and query parameters are read, with their limits")
    func readsTheDocument() throws {
        let spec = try String(contentsOfFile: Self.specPath, encoding: .utf8)
        let types = ParameterTypes(spec: spec)
        let templated = spec.split(separator: "\n").filter { $0.hasPrefix("  /") && $0.contains("{") }.count
        #expect(templated > 40)
        #expect(types.firstProblem(method: "GET", path: "/v1/customers", query: "limit=501")?.field == "limit")
        #expect(types.firstProblem(method: "GET", path: "/v1/customers", query: "limit=500&cursor=") == nil)
        #expect(types.firstProblem(method: "GET", path: "/v1/analytics/basket-rules", query: "limit=1000") == nil)
        #expect(types.firstProblem(method: "GET", path: "/v1/analytics/basket-rules", query: "limit=1001")?.field == "limit")
        #expect(types.firstProblem(method: "GET", path: "/v1/analytics/customers", query: "minChurnRisk=2")?.field == "minChurnRisk")
        #expect(types.firstProblem(method: "GET", path: "/v1/customers/abc", query: nil)?.field == "id")
        #expect(types.firstProblem(method: "PUT", path: "/v1/stores/" + String(repeating: "0", count: 41), query: nil)?.field == "code")
        #expect(types.firstProblem(method: "GET", path: "/v1/analytics/customers", query: "segment=nonsense")?.field == "segment")
        #expect(types.firstProblem(method: "GET", path: "/v1/analytics/customers", query: "segment=champions") == nil)
    }
}
