import Foundation
import Hummingbird

/// The path and query parameters each operation declares in the OpenAPI document, with their
/// constraints (type, format, enum, minimum, maximum, minLength, maxLength), so that they are
/// checked at the edge for every caller before any handler runs, and a parameter that does not
/// parse is named in the problem (the runtime's decoding error does not say which failed).
///
/// It reads the document as this project writes it: parameters as flow mappings
/// (`{ name: limit, in: query, schema: { type: integer, maximum: 500 } }`, alone, in a `[…]`
/// list or after `- `), as block mappings (`- name: q` then `in:` and `schema:` lines), or as
/// `$ref`s to `components/parameters`. `ParameterTypesTests` checks that it finds them all.
public struct ParameterTypes: Sendable {
    struct Declared: Sendable, Equatable {
        var name: String
        var place: String
        var type: String
        var format: String?
        var values: [String]?
        var minimum: Double?
        var maximum: Double?
        var minLength: Int?
        var maxLength: Int?
    }

    struct Operation: Sendable {
        var method: String
        var template: PathTemplate
        var parameters: [Declared]
    }

    private(set) var operations: [Operation] = []

    public init(spec: String) {
        let lines = spec.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        // components/parameters first, for the $refs.
        var shared: [String: Declared] = [:]
        var inComponents = false, inParameters = false
        var index = 0
        while index < lines.count {
            let line = lines[index]
            if !line.hasPrefix(" ") { inComponents = line.hasPrefix("components:") }
            if inComponents, Self.indent(line) == 2 { inParameters = line.trimmingCharacters(in: .whitespaces) == "parameters:" }
            if inComponents, inParameters, Self.indent(line) == 4, line.hasSuffix(":") {
                let key = line.trimmingCharacters(in: .whitespaces).dropLast()
                let (fields, next) = Self.block(lines, from: index + 1, deeperThan: 4)
                if let declared = Self.declared(fields) { shared[String(key)] = declared }
                index = next
                continue
            }
            index += 1
        }
        // Then each path's and each operation's parameters.
        var path: String?
        var pathParameters: [Declared] = []
        var method: String?
        var methodParameters: [Declared] = []
        func close() {
            if let path, let method {
                var all = pathParameters
                for p in methodParameters { all.removeAll { $0.name == p.name && $0.place == p.place }; all.append(p) }
                operations.append(Operation(method: method.uppercased(), template: PathTemplate(path), parameters: all))
            }
            method = nil
            methodParameters = []
        }
        var inPaths = false
        index = 0
        while index < lines.count {
            let line = lines[index]
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            let depth = Self.indent(line)
            if !line.hasPrefix(" "), !trimmed.isEmpty {
                if inPaths { close() }
                inPaths = line.hasPrefix("paths:")
                index += 1
                continue
            }
            guard inPaths, !trimmed.isEmpty else {
                index += 1
                continue
            }
            if depth == 2, trimmed.hasPrefix("/") {
                close()
                path = String(trimmed.dropLast())
                pathParameters = []
            } else if depth == 4, ["get:", "post:", "put:", "patch:", "delete:"].contains(trimmed) {
                close()
                method = String(trimmed.dropLast())
            } else if (depth == 4 || depth == 6), trimmed.hasPrefix("parameters:") {
                var found: [Declared] = []
                let rest = trimmed.dropFirst("parameters:".count).trimmingCharacters(in: .whitespaces)
                if rest.hasPrefix("[") {
                    found = Self.flowList(rest).compactMap { Self.resolve($0, shared) }
                    index += 1
                } else {
                    index += 1
                    while index < lines.count, Self.indent(lines[index]) > depth || lines[index].trimmingCharacters(in: .whitespaces).isEmpty {
                        let item = lines[index].trimmingCharacters(in: .whitespaces)
                        guard item.hasPrefix("- ") else {
                            index += 1
                            continue
                        }
                        let body = item.dropFirst(2).trimmingCharacters(in: .whitespaces)
                        if body.hasPrefix("{") {
                            if let d = Self.resolve(Self.flowMapping(body), shared) { found.append(d) }
                            index += 1
                        } else {
                            var fields = Self.pair(body)
                            let (more, next) = Self.block(lines, from: index + 1, deeperThan: Self.indent(lines[index]) + 1)
                            fields.merge(more) { a, _ in a }
                            if let d = Self.resolve(fields, shared) { found.append(d) }
                            index = next
                        }
                    }
                }
                if depth == 4 {
                    close()
                    pathParameters = found
                } else {
                    methodParameters = found
                }
                continue
            }
            index += 1
        }
        close()
    }

    // MARK: Checking

    /// Why `value` is not a valid value of `d`, or nil when it is.
    static func problem(_ d: Declared, value: String) -> String? {
        switch d.type {
        case "integer":
            guard let n = Int64(value) else { return "expected a whole number, found '\(value.prefix(40))'" }
            return range(Double(n), d)
        case "number":
            guard let n = Double(value), n.isFinite else { return "expected a number, found '\(value.prefix(40))'" }
            return range(n, d)
        case "boolean": return value == "true" || value == "false" ? nil : "expected true or false, found '\(value.prefix(40))'"
        case "string":
            if let values = d.values, !values.contains(value) { return "expected one of \(values.joined(separator: ", "))" }
            if let max = d.maxLength, value.count > max { return "must be at most \(max) characters" }
            if let min = d.minLength, value.count < min { return min == 1 ? "must not be empty" : "must be at least \(min) characters" }
            if d.format == "date-time", ISO8601DateFormatter().date(from: value) == nil { return "expected a date and time such as 2026-01-31T09:00:00Z" }
            if d.format == "date", !LocalDateText.valid(value) { return "expected a date such as 2026-01-31" }
            return nil
        default: return nil
        }
    }

    static func range(_ n: Double, _ d: Declared) -> String? {
        func text(_ x: Double) -> String { x == x.rounded() && abs(x) < 1e15 ? String(Int64(x)) : String(x) }
        switch (d.minimum, d.maximum) {
        case (let min?, let max?) where n < min || n > max: return "must be \(text(min)) to \(text(max))"
        case (let min?, nil) where n < min: return "must be at least \(text(min))"
        case (nil, let max?) where n > max: return "must be at most \(text(max))"
        default: return nil
        }
    }

    /// The operation the router picks for this method and path (nil when the path has no such
    /// method: the router answers 404 or 405), with the path parameters' values by name.
    func operation(method: String, path: String) -> (Operation, [String: String])? {
        let parts = PathTemplate.parts(of: path)
        guard let route = PathTemplate.chosen(among: operations.map(\.template), for: parts),
            let best = operations.first(where: { $0.template == route && $0.method == method })
        else { return nil }
        // Path parameters by position, named in order of the template's braces.
        let names = best.parameters.filter { $0.place == "path" }.map(\.name)
        var values: [String: String] = [:]
        var n = 0
        for (component, part) in zip(best.template.components, parts) where component == nil {
            if n < names.count { values[names[n]] = part.removingPercentEncoding ?? part }
            n += 1
        }
        return (best, values)
    }

    /// The first declared path or query parameter of the request that breaks its declaration.
    public func firstProblem(method: String, path: String, query: String?) -> (field: String, reason: String)? {
        guard let (operation, pathValues) = operation(method: method, path: path) else { return nil }
        let items = URLComponents(string: "/?" + (query ?? ""))?.queryItems ?? []
        for d in operation.parameters {
            switch d.place {
            case "path":
                if let value = pathValues[d.name], let reason = Self.problem(d, value: value) { return (d.name, reason) }
            case "query":
                for item in items where item.name == d.name {
                    if let reason = Self.problem(d, value: item.value ?? "") { return (d.name, reason) }
                }
            default: continue
            }
        }
        return nil
    }

    // MARK: Reading the document

    static func indent(_ line: String) -> Int { line.prefix { $0 == " " }.count }

    /// `key: value` lines deeper than `depth` from `start`, a nested `schema:` block flattened in.
    static func block(_ lines: [String], from start: Int, deeperThan depth: Int) -> (fields: [String: String], next: Int) {
        var fields: [String: String] = [:]
        var index = start
        while index < lines.count {
            let line = lines[index]
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty {
                index += 1
                continue
            }
            guard indent(line) > depth, !trimmed.hasPrefix("- ") || indent(line) > depth + 2 else { break }
            if trimmed.hasPrefix("schema:"), trimmed.contains("{") {
                for (k, v) in flowMapping(String(trimmed.dropFirst("schema:".count))) { fields[k] = v }
            } else {
                fields.merge(pair(trimmed)) { a, _ in a }
            }
            index += 1
        }
        return (fields, index)
    }

    /// `key: value` as a one-entry dictionary.
    static func pair(_ text: String) -> [String: String] {
        guard let colon = text.firstIndex(of: ":") else { return [:] }
        let key = text[..<colon].trimmingCharacters(in: .whitespaces)
        let value = text[text.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        return value.isEmpty ? [:] : [key: unquote(value)]
    }

    static func unquote(_ text: String) -> String { text.trimmingCharacters(in: CharacterSet(charactersIn: "'\" ")) }

    /// The items of a flow list `[a, { … }, [ … ]]` (top level only).
    static func flowList(_ text: String) -> [[String: String]] {
        var inner = text.trimmingCharacters(in: .whitespaces)
        guard inner.hasPrefix("["), inner.hasSuffix("]") else { return [] }
        inner = String(inner.dropFirst().dropLast())
        return split(inner).map(flowMapping)
    }

    /// A flow mapping `{ k: v, schema: { … } }`, nested mappings flattened in (`type`, `maximum`…),
    /// lists kept as their text (`enum: [a, b]` → "a, b").
    static func flowMapping(_ text: String) -> [String: String] {
        var inner = text.trimmingCharacters(in: .whitespaces)
        guard inner.hasPrefix("{"), inner.hasSuffix("}") else { return [:] }
        inner = String(inner.dropFirst().dropLast())
        var fields: [String: String] = [:]
        for entry in split(inner) {
            guard let colon = entry.firstIndex(of: ":") else { continue }
            let key = entry[..<colon].trimmingCharacters(in: .whitespaces)
            let value = entry[entry.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if value.hasPrefix("{") {
                for (k, v) in flowMapping(value) where fields[k] == nil { fields[k] = v }
            } else if value.hasPrefix("[") {
                fields[key] = String(value.dropFirst().dropLast())
            } else {
                fields[key] = unquote(value)
            }
        }
        return fields
    }

    /// Splits on commas outside braces, brackets and quotes.
    static func split(_ text: String) -> [String] {
        var parts: [String] = []
        var depth = 0, quote: Character?
        var current = ""
        for c in text {
            if let q = quote {
                if c == q { quote = nil }
            } else if c == "'" || c == "\"" {
                quote = c
            } else if c == "{" || c == "[" {
                depth += 1
            } else if c == "}" || c == "]" {
                depth -= 1
            } else if c == ",", depth == 0 {
                parts.append(current.trimmingCharacters(in: .whitespaces))
                current = ""
                continue
            }
            current.append(c)
        }
        if !current.trimmingCharacters(in: .whitespaces).isEmpty { parts.append(current.trimmingCharacters(in: .whitespaces)) }
        return parts
    }

    static func resolve(_ fields: [String: String], _ shared: [String: Declared]) -> Declared? {
        if let ref = fields["$ref"] { return shared[String(ref.split(separator: "/").last ?? "")] }
        return declared(fields)
    }

    static func declared(_ f: [String: String]) -> Declared? {
        guard let name = f["name"], let place = f["in"] else { return nil }
        return Declared(
            name: name, place: place, type: f["type"] ?? "string", format: f["format"],
            values: f["enum"].map { $0.split(separator: ",").map { unquote(String($0)) } }, minimum: f["minimum"].flatMap(Double.init),
            maximum: f["maximum"].flatMap(Double.init), minLength: f["minLength"].flatMap { Int($0) }, maxLength: f["maxLength"].flatMap { Int($0) })
    }
}

/// `YYYY-MM-DD` with a real month and day.
enum LocalDateText {
    static func valid(_ text: String) -> Bool {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard text.count == 10, parts.count == 3, let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]) else { return false }
        return (1...9999).contains(y) && (1...12).contains(m) && (1...31).contains(d)
    }
}

/// Checks every declared path and query parameter of a request against the OpenAPI document
/// before the handler runs, for every caller: 400 `invalid_parameter` naming the field.
public struct ParameterCheckMiddleware<Context: RequestContext>: RouterMiddleware {
    let parameters: ParameterTypes

    public init(parameters: ParameterTypes) { self.parameters = parameters }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.uri.path.hasPrefix("/v1/"),
            let (field, reason) = parameters.firstProblem(method: request.method.rawValue, path: request.uri.path, query: request.uri.query)
        {
            throw Problem(status: .badRequest, code: "invalid_parameter", detail: "\(field): \(reason)", errors: [.init(field: field, reason: reason)])
        }
        return try await next(request, context)
    }
}
