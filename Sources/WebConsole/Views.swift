import Access
import Foundation
import HTTPTypes
import Hummingbird
import Mustache
import NIOCore

/// The Mustache templates and static files, loaded once from the module's resources.
struct Views: Sendable {
    let library: MustacheLibrary
    let statics: [String: (String, String)]

    static func load() throws -> Views {
        guard let base = Bundle.module.resourceURL else { preconditionFailure("WebConsole resources are missing") }
        var library = MustacheLibrary()
        let templates = base.appendingPathComponent("Templates")
        for file in try FileManager.default.contentsOfDirectory(atPath: templates.path) where file.hasSuffix(".mustache") {
            let text = try String(contentsOf: templates.appendingPathComponent(file), encoding: .utf8)
            try library.register(text, named: String(file.dropLast(".mustache".count)))
        }
        var statics: [String: (String, String)] = [:]
        let staticDir = base.appendingPathComponent("Static")
        for file in try FileManager.default.contentsOfDirectory(atPath: staticDir.path) {
            let type =
                file.hasSuffix(".css")
                ? "text/css; charset=utf-8"
                : file.hasSuffix(".js") ? "text/javascript; charset=utf-8" : file.hasSuffix(".svg") ? "image/svg+xml" : "text/plain"
            statics[file] = (try String(contentsOf: staticDir.appendingPathComponent(file), encoding: .utf8), type)
        }
        return Views(library: library, statics: statics)
    }

    /// The navigation of a site, as far as the visitor's role reaches.
    static func navigation(_ site: Site, _ visitor: Visitor?) -> [[String: String]] {
        guard let visitor else { return [] }
        let principal = visitor.principal
        var items: [(String, String)] = []
        switch site {
        case .console:
            items.append(("Dashboard", "/console/"))
            if principal.can(.customersRead) { items.append(("Customers", "/console/customers")) }
            if principal.can(.tasksWork) { items.append(("Agent desk", "/console/tasks")) }
            if principal.can(.requestsRead) { items.append(("Service desk", "/console/service")) }
            if principal.can(.segmentsRead) { items.append(("Segments", "/console/segments")) }
            if principal.can(.campaignsRead) { items.append(("Campaigns", "/console/campaigns")) }
            if principal.can(.salesRead) { items.append(("Sales", "/console/sales")) }
            if principal.can(.analyticsRead) { items.append(("Analytics", "/console/analytics")) }
            if principal.can(.loyaltyRead) { items.append(("Loyalty", "/console/loyalty")) }
            if principal.can(.partnersManage) { items.append(("Partners", "/console/partners")) }
            if principal.can(.loyaltyManage) { items.append(("Approvals", "/console/approvals")) }
            if principal.can(.usersManage) || principal.can(.apiKeysManage) { items.append(("Admin", "/console/admin")) }
        case .portal:
            items = [
                ("My points", "/portal/"), ("Rewards", "/portal/rewards"), ("Promotions", "/portal/promotions"),
                ("Preferences", "/portal/preferences"), ("Help", "/portal/help"),
            ]
        case .partners:
            items = [("Transactions", "/partners/")]
            if principal.mayManagePartnerAccount { items += [("Statements", "/partners/statements"), ("Joint promotions", "/partners/promotions")] }
        }
        return items.map { item in
            var entry = ["label": item.0, "href": item.1]
            // The service desk carries a badge: the requests waiting on this person, and how many are late.
            if item.1 == "/console/service", let (open, late) = visitor.assigned {
                entry["badge"] = late > 0 ? "\(open) yours, \(late) late" : "\(open) yours"
                entry["badgeHref"] = "/console/service?view=mine"
                entry["late"] = late > 0 ? "yes" : ""
            }
            return entry
        }
    }

    /// A whole page: the content template inside the site's layout.
    func page(
        _ site: Site, visitor: Visitor?, title: String, template: String, _ values: [String: Any], status: HTTPResponse.Status = .ok
    ) throws -> Response {
        // An absent optional must make a section false, not print "nil".
        var values = Self.withoutNils(values)
        // A form sent back with an error is refused (422), so browsers, tests and the form's
        // one-time token all see it was not applied; the page keeps what the visitor typed.
        var status = status
        if status == .ok, let error = values["error"] as? String, !error.isEmpty { status = .unprocessableContent }
        if let visitor { values["csrf"] = visitor.formToken() }
        guard let content = library.render(values, withTemplate: template) else { preconditionFailure("no template \(template)") }
        let layout: [String: Any] = [
            "title": title, "site": site.title, "root": site.root, "content": content, "nav": Self.navigation(site, visitor),
            "signedIn": visitor != nil, "who": visitor.map { Self.name($0) } ?? "", "logout": "/\(site.rawValue)/logout",
            "csrf": visitor?.formToken() ?? "",
            // A page showing work in progress reloads itself (the import wizard's progress).
            "refresh": values["refresh"] as Any,
            "globalSearch": site == .console && visitor?.principal.can(.customersRead) == true,
            // A partner's key has no password; its people do.
            "passwordLink": ({ if case .partner = visitor?.principal { false } else { visitor != nil } }() ? "/\(site.rawValue)/password" : nil) as Any,
        ]
        let html = library.render(Self.withoutNils(layout), withTemplate: "layout")!
        return Response(
            status: status,
            headers: [
                .contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
                .contentSecurityPolicy:
                    "default-src 'self'; img-src 'self' data: https:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'",
                HTTPField.Name("X-Content-Type-Options")!: "nosniff", HTTPField.Name("Referrer-Policy")!: "same-origin",
            ], body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    /// The values with absent optionals removed, in nested dictionaries and lists too.
    static func withoutNils(_ values: [String: Any]) -> [String: Any] {
        var out: [String: Any] = [:]
        for (k, v) in values where !isNil(v) { out[k] = clean(v) }
        return out
    }

    static func clean(_ v: Any) -> Any {
        if let d = v as? [String: Any] { return withoutNils(d) }
        if let list = v as? [[String: Any]] { return list.map(withoutNils) }
        if let list = v as? [Any] { return list.filter { !isNil($0) }.map(clean) }
        let mirror = Mirror(reflecting: v)
        if mirror.displayStyle == .optional, let inner = mirror.children.first?.value { return clean(inner) }
        return v
    }

    static func isNil(_ value: Any) -> Bool {
        let mirror = Mirror(reflecting: value)
        return mirror.displayStyle == .optional && mirror.children.isEmpty
    }

    /// The site's 404 page, with its navigation (rendered by ``PageErrorMiddleware``, which knows
    /// the site and the visitor).
    func notFound(title: String) throws -> Response { throw PageNotFound(title: title) }

    /// Who is signed in, as the header names them: a partner's people under the partner's name.
    static func name(_ v: Visitor) -> String {
        switch v.principal {
        case .staff(_, let email, let role): "\(email) (\(Format.label(role.rawValue)))"
        case .member(_, let email): email
        case .partner(_, let name, let partner, _): "\(v.partnerName ?? partner) — \(name) (API key)"
        case .partnerUser(_, let email, let partner, let role): "\(v.partnerName ?? partner) — \(email) (\(Format.label(role.rawValue)))"
        }
    }
}

/// Charts drawn on the server as SVG: no script, readable without colour (values are labelled).
enum SVGChart {
    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// Horizontal bars with their values.
    static func bars(_ data: [(label: String, value: Double)], title: String, format: (Double) -> String = { String(format: "%.0f", $0) }) -> String {
        let rowHeight = 26.0
        let height = Double(max(data.count, 1)) * rowHeight + 10
        let maxValue = max(data.map(\.value).max() ?? 1, 1e-9)
        var out =
            #"<svg class="chart" role="img" aria-label="\#(escape(title))" viewBox="0 0 600 \#(Int(height))" preserveAspectRatio="xMinYMin meet"><title>\#(escape(title))</title>"#
        for (i, d) in data.enumerated() {
            let y = Double(i) * rowHeight + 5
            let width = max(1, d.value / maxValue * 360)
            out += #"<text x="0" y="\#(y + 17)" class="label">\#(escape(d.label))</text>"#
            out += #"<rect x="150" y="\#(y + 4)" width="\#(String(format: "%.1f", width))" height="18" class="bar"/>"#
            out += #"<text x="\#(String(format: "%.1f", 156 + width))" y="\#(y + 17)" class="value">\#(escape(format(d.value)))</text>"#
        }
        return out + "</svg>" + table(data.map { ($0.label, format($0.value)) }, title: title)
    }

    /// The chart's figures as a table, for screen readers and for copying (every chart has one).
    static func table(_ rows: [(String, String)], title: String, headers: (String, String) = ("", "Value")) -> String {
        guard !rows.isEmpty else { return "" }
        var out = #"<details class="chart-data"><summary>\#(escape(title)): the figures</summary><table><thead><tr><th scope="col">\#(escape(headers.0))</th><th scope="col" class="num">\#(escape(headers.1))</th></tr></thead><tbody>"#
        for (label, value) in rows { out += #"<tr><th scope="row">\#(escape(label))</th><td class="num">\#(escape(value))</td></tr>"# }
        return out + "</tbody></table></details>"
    }

    /// A line through points (x and y from 0 to 1), with axis labels: the Pareto curve.
    /// A trend line over labelled periods (e.g. months), the largest value marked.
    static func trend(
        _ series: [(label: String, value: Double)], title: String, format: (Double) -> String = { Format.number(Int64($0.rounded())) }
    ) -> String {
        guard series.count >= 2 else { return "" }
        let (w, h, pad) = (600.0, 260.0, 40.0)
        let top = max(series.map(\.value).max() ?? 1, 1)
        let step = (w - 2 * pad) / Double(series.count - 1)
        func x(_ i: Int) -> Double { pad + Double(i) * step }
        func y(_ v: Double) -> Double { h - pad - max(0, v) / top * (h - 2 * pad) }
        let path = series.enumerated().map { String(format: "%.1f,%.1f", x($0.offset), y($0.element.value)) }.joined(separator: " ")
        let labels = series.enumerated().map { i, p in
            #"<text x="\#(String(format: "%.1f", x(i)))" y="\#(h - pad + 16)" class="label" text-anchor="middle">\#(escape(p.label))</text>"#
        }.joined()
        let dots = series.enumerated().map { i, p in
            #"<circle cx="\#(String(format: "%.1f", x(i)))" cy="\#(String(format: "%.1f", y(p.value)))" r="3" class="dot"><title>\#(escape(p.label)): \#(escape(format(p.value)))</title></circle>"#
        }.joined()
        return #"""
            <svg class="chart" role="img" aria-label="\#(escape(title))" viewBox="0 0 \#(Int(w)) \#(Int(h))"><title>\#(escape(title))</title>\#
            <line x1="\#(pad)" y1="\#(h - pad)" x2="\#(w - pad)" y2="\#(h - pad)" class="axis"/>\#
            <text x="\#(pad)" y="\#(pad - 10)" class="label">highest: \#(escape(format(top)))</text>\#
            <polyline points="\#(path)" class="line" fill="none"/>\#(dots)\#(labels)</svg>
            """# + table(series.map { ($0.label, format($0.value)) }, title: title)
    }

    static func curve(_ points: [(x: Double, y: Double)], title: String, xLabel: String, yLabel: String) -> String {
        let (w, h, pad) = (600.0, 300.0, 40.0)
        let path = points.map { String(format: "%.1f,%.1f", pad + $0.x * (w - 2 * pad), h - pad - $0.y * (h - 2 * pad)) }.joined(separator: " ")
        return #"""
            <svg class="chart" role="img" aria-label="\#(escape(title))" viewBox="0 0 \#(Int(w)) \#(Int(h))"><title>\#(escape(title))</title>\#
            <line x1="\#(pad)" y1="\#(h - pad)" x2="\#(w - pad)" y2="\#(h - pad)" class="axis"/><line x1="\#(pad)" y1="\#(pad)" x2="\#(pad)" y2="\#(h - pad)" class="axis"/>\#
            <polyline points="\#(path)" class="line" fill="none"/>\#
            <text x="\#(w / 2)" y="\#(h - 8)" class="label" text-anchor="middle">\#(escape(xLabel))</text>\#
            <text x="12" y="\#(h / 2)" class="label" transform="rotate(-90 12 \#(h / 2))" text-anchor="middle">\#(escape(yLabel))</text></svg>
            """# + table(
                stride(from: 0, to: points.count, by: max(1, points.count / 10)).map { i in
                    (Format.pct(points[i].x), Format.pct(points[i].y))
                }, title: title, headers: (xLabel, yLabel))
    }
}
