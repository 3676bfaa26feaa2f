import Foundation
import Hummingbird

/// A list page's state, read from its address: which page, sorted by what, filtered how. Every
/// list in the console reads and writes the same parameters (`page`, `sort`, `dir`, `q` and the
/// list's own filters), so a list's address is its view — it can be bookmarked, shared and saved.
struct ListRequest: Sendable {
    static let pageSize = 50

    var page: Int
    var sort: String
    var descending: Bool
    var q: String?
    var filters: [String: String]

    /// Reads the list's parameters; an unknown sort column or a page beyond reason falls back to
    /// the default, never to an error.
    init(_ request: Request, columns: [ListColumn], defaultSort: String, defaultDescending: Bool = false, filters: [String] = []) {
        let query = request.uri.queryParameters
        let sortable = Set(columns.filter(\.sortable).map(\.key))
        let asked = query["sort"].map(String.init)
        sort = asked.flatMap { sortable.contains($0) ? $0 : nil } ?? defaultSort
        descending = query["dir"].map { $0 == "desc" } ?? (asked == nil ? defaultDescending : false)
        page = min(max(Int(query["page"].map(String.init) ?? "") ?? 1, 1), 100_000)
        let text = query["q"].map(String.init)?.trimmingCharacters(in: .whitespaces)
        q = (text?.isEmpty ?? true) ? nil : text.map { String($0.prefix(200)) }
        var chosen: [String: String] = [:]
        for name in filters {
            if let v = query[Substring(name)].map(String.init)?.trimmingCharacters(in: .whitespaces), !v.isEmpty { chosen[name] = String(v.prefix(100)) }
        }
        self.filters = chosen
    }

    /// The first page of a list shown without its own request (a page answering a form).
    static func defaults(sort: String, descending: Bool = false) -> ListRequest {
        ListRequest(page: 1, sort: sort, descending: descending, q: nil, filters: [:])
    }

    init(page: Int, sort: String, descending: Bool, q: String?, filters: [String: String]) {
        self.page = page
        self.sort = sort
        self.descending = descending
        self.q = q
        self.filters = filters
    }

    var offset: Int { (page - 1) * Self.pageSize }

    /// This view's query string with some parameters changed (nil removes one).
    func query(_ changes: [String: String?] = [:]) -> String {
        var items: [(String, String)] = []
        var values: [String: String] = filters
        if let q { values["q"] = q }
        values["sort"] = sort
        values["dir"] = descending ? "desc" : "asc"
        if page > 1 { values["page"] = String(page) }
        for (k, v) in changes { values[k] = v }
        for (k, v) in values.sorted(by: { $0.key < $1.key }) { items.append((k, v)) }
        return items.map { "\($0.0)=\(Self.encode($0.1))" }.joined(separator: "&")
    }

    static func encode(_ s: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }
}

/// A column of a list: its parameter name, its heading, whether it sorts, whether it holds figures.
struct ListColumn: Sendable {
    let key: String
    let label: String
    var sortable = true
    var numeric = false
}

/// One cell: the text people read and, for the row's name, where it leads.
struct ListCell {
    var text: String
    var href: String? = nil

    init(_ text: String, href: String? = nil) {
        self.text = text
        self.href = href
    }
}

/// A filter control above a list: a choice among values (with labels), or free text.
struct ListFilter {
    let key: String
    let label: String
    /// (value, label); empty for a text field.
    let options: [(String, String)]
}

/// Renders any list the same way: filters, the count, sortable headings (links, so the keyboard
/// operates them; `aria-sort` tells screen readers), rows, and pages.
enum ListView {
    /// The values of the `listing` partial.
    static func render(
        path: String, request: ListRequest, columns: [ListColumn], rows: [[ListCell]], total: Int, filters: [ListFilter] = [],
        search: String? = nil, noun: (String, String) = ("item", "items"), savedViews: [(name: String, query: String)] = [],
        csrf: String? = nil
    ) -> [String: Any] {
        let first = total == 0 ? 0 : request.offset + 1
        let last = request.offset + rows.count
        let pages = max(1, (total + ListRequest.pageSize - 1) / ListRequest.pageSize)
        let headings: [[String: Any]] = columns.map { c in
            var h: [String: Any] = ["label": c.label, "numeric": c.numeric]
            if c.sortable {
                let current = request.sort == c.key
                let nextDescending = current ? !request.descending : c.numeric
                h["href"] = path + "?" + request.query(["sort": c.key, "dir": nextDescending ? "desc" : "asc", "page": nil])
                h["ariaSort"] = current ? (request.descending ? "descending" : "ascending") : "none"
                h["arrow"] = current ? (request.descending ? " ▼" : " ▲") : ""
            }
            return h
        }
        let body: [[String: Any]] = rows.map { cells in
            ["cells": zip(cells, columns).map { cell, column -> [String: Any] in
                ["text": cell.text, "href": cell.href as Any, "numeric": column.numeric]
            }]
        }
        let controls: [[String: Any]] = filters.map { f in
            let chosen = request.filters[f.key] ?? ""
            return [
                "key": f.key, "label": f.label, "value": chosen, "isText": f.options.isEmpty,
                "options": f.options.map { ["value": $0.0, "label": $0.1, "selected": $0.0 == chosen] },
            ]
        }
        var values: [String: Any] = [
            "path": path, "headings": headings, "rows": body, "filters": controls, "hasControls": !filters.isEmpty || search != nil,
            "search": search as Any, "q": request.q ?? "", "sort": request.sort, "dir": request.descending ? "desc" : "asc",
            "summary": total == 0
                ? "No \(noun.1) match."
                : "Showing \(Format.number(first))–\(Format.number(last)) of \(Format.number(total)) \(total == 1 ? noun.0 : noun.1)",
            "total": total, "empty": rows.isEmpty,
            "pageLabel": "Page \(Format.number(request.page)) of \(Format.number(pages))",
        ]
        if request.page > 1 { values["previous"] = path + "?" + request.query(["page": String(min(request.page - 1, pages))]) }
        if request.page < pages { values["next"] = path + "?" + request.query(["page": String(request.page + 1)]) }
        if let csrf {
            values["saving"] = ["csrf": csrf, "path": path, "query": request.query(["page": nil])]
            values["views"] = savedViews.map { ["name": $0.name, "href": path + "?" + $0.query] }
        }
        return values
    }

    /// Sorts, filters and pages a list held in memory (promotions, rewards, users: tens to
    /// hundreds of rows); large lists page in the database instead.
    static func page<T>(_ items: [T], _ request: ListRequest, keys: [String: (T, T) -> Bool]) -> (items: [T], total: Int) {
        var sorted = items
        if let less = keys[request.sort] { sorted.sort(by: request.descending ? { less($1, $0) } : less) }
        let slice = sorted.dropFirst(request.offset).prefix(ListRequest.pageSize)
        return (Array(slice), items.count)
    }
}
