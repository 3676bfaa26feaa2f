import Access
import Analytics
import Campaigns
import Customers
import Foundation
import Hummingbird
import NIOCore
import SharedModels

/// Analytics that lead to action: every figure links to the customers behind it. A figure is a
/// rule of the segment language (`rfm.segment == "at_risk"`, `churn.risk >= 0.5`…), so the list
/// is the one a segment on that rule would hold: paged with its count, each name leading to the
/// 360, downloadable as CSV, and savable as a segment for a campaign.
struct AnalyticsPages: Sendable {
    let console: WebConsole
    var s: WebConsole.Services { console.services }
    var pages: ConsolePages { ConsolePages(console: console) }

    /// The drill-down address of a figure.
    static func href(_ rule: String, _ title: String) -> String {
        "/console/analytics/customers?rule=\(ListRequest.encode(rule))&title=\(ListRequest.encode(title))"
    }

    func register(on router: Router<WebRequestContext>) {
        router.get("/console/analytics/customers") { request, _ in
            try await console.signedIn(request, .console) { v in
                let q = request.uri.queryParameters
                return try await customers(
                    v, rule: q["rule"].map { String($0.prefix(2_000)) } ?? "", title: q["title"].map { String($0.prefix(200)) },
                    after: q["after"].flatMap { Int64(String($0)) } ?? 0)
            }
        }
        router.get("/console/analytics/customers.csv") { request, _ in
            try await console.signedIn(request, .console) { v in
                guard v.principal.can(.analyticsRead), v.principal.can(.dataExport) || v.principal.can(.segmentsManage) else {
                    return try pages.forbidden(v)
                }
                let rule = request.uri.queryParameters["rule"].map { String($0.prefix(2_000)) } ?? ""
                var text = ""
                do {
                    _ = try await s.segments.exportCSV(rule: rule) { text += $0 }
                } catch let error as SegmentError {
                    return try await customers(v, rule: rule, title: nil, after: 0, error: error.description)
                }
                try await s.access.audit(actor: v.principal.actor, action: "analytics.export", target: nil, outcome: "ok", detail: rule)
                return Response(
                    status: .ok,
                    headers: [.contentType: "text/csv; charset=utf-8", .contentDisposition: "attachment; filename=\"customers.csv\"", .cacheControl: "no-store"],
                    body: .init(byteBuffer: ByteBuffer(string: text)))
            }
        }
    }

    func customers(_ v: Visitor, rule: String, title: String?, after: Int64, error: String? = nil) async throws -> Response {
        guard v.principal.can(.analyticsRead) else { return try pages.forbidden(v) }
        var values: [String: Any] = [
            "rule": rule, "title": title ?? "Customers", "error": error as Any,
            "mayExport": v.principal.can(.dataExport) || v.principal.can(.segmentsManage),
            "maySave": v.principal.can(.segmentsManage), "csv": "/console/analytics/customers.csv?rule=\(ListRequest.encode(rule))",
        ]
        do {
            let count = try await s.segments.count(rule: rule).count
            let page = try await s.segments.members(rule: rule, after: after, limit: ListRequest.pageSize)
            let currency = s.customers.defaultCurrency
            values["summary"] =
                count == 0
                ? "No customer matches."
                : "\(Format.number(count)) customers" + (after > 0 ? " (a later page)" : "")
            values["members"] = page.map {
                [
                    "id": $0.customer, "name": $0.name, "email": $0.email ?? "—", "tier": $0.tier ?? "—",
                    "clv": $0.clv.map { Format.money($0, currency) } ?? "—",
                ]
            }
            if page.count == ListRequest.pageSize, let last = page.last {
                values["next"] = Self.href(rule, title ?? "Customers") + "&after=\(last.customer)"
            }
            if after > 0 { values["first"] = Self.href(rule, title ?? "Customers") }
        } catch let problem as SegmentError {
            values["error"] = problem.description
            values["members"] = [[String: Any]]()
        }
        return try console.views.page(.console, visitor: v, title: title ?? "Customers", template: "analytics-customers", values)
    }
}
