import Access
import Customers
import Foundation
import Hummingbird
import Interchange
import NIOCore
import SharedModels

/// The import wizard: upload a customer CSV, map its columns to Patron's, preview the first rows
/// as they will be read, try a dry run that shows each rejected row with its reason (nothing is
/// written), then import with progress, and download the rejected rows to fix and send again.
/// The file is kept in the database for its owner (a day), so any server of a cluster can take
/// the next step; the import itself runs in the background on the server that started it.
struct ImportPages: Sendable {
    let console: WebConsole
    var s: WebConsole.Services { console.services }
    var pages: ConsolePages { ConsolePages(console: console) }

    /// What a run reported, kept on the upload.
    struct Outcome: Codable {
        var dryRun: Bool
        var rows: Int
        var created = 0
        var updated = 0
        var rejected = 0
        var linked = 0
        var seconds = 0.0
        var finished = false
        var failure: String? = nil
        /// The mapped file's line of each rejected row, with the reason (`column: reason`).
        var rejections: [Int: String] = [:]
        var mapping: [String?] = []
        /// When a running import last reported progress: one silent for longer than
        /// ``ImportPages/stalled`` (its server stopped) may be started again.
        var heartbeat: Date? = nil
    }

    /// How long a running import may stay silent before it counts as stopped.
    static let stalled: TimeInterval = 300

    func register(on router: Router<WebRequestContext>) {
        router.get("/console/import") { request, _ in try await console.signedIn(request, .console) { try await start($0) } }
        router.post("/console/import") { request, context in
            try await console.posted(request, context, .console) { v, form in
                guard v.principal.can(.dataImport) else { return try pages.forbidden(v) }
                guard let file = form.files["file"], !file.data.isEmpty else { return try await start(v, error: "Choose a CSV file to upload.") }
                guard let text = String(data: file.data, encoding: .utf8) else {
                    return try await start(v, error: "The file is not UTF-8 text; save it from the spreadsheet as “CSV UTF-8” and upload it again.")
                }
                do {
                    _ = try CSVMapping.peek(text, rows: 1)
                    let id = try await s.access.saveUpload(of: v.principal, name: file.filename, content: text)
                    return Response.redirect(to: "/console/import/\(id)")
                } catch let problem as CSVMapping.Unreadable {
                    return try await start(v, error: "The file cannot be read as CSV: \(problem.description)")
                } catch { return try await start(v, error: explain(error)) }
            }
        }
        router.get("/console/import/:id") { request, context in
            try await console.signedIn(request, .console) { v in
                guard let id = Int64(try context.parameters.require("id")) else { return try console.views.notFound(title: "No such upload") }
                return try await step(v, id)
            }
        }
        router.post("/console/import/:id/run") { request, context in
            try await console.posted(request, context, .console) { v, form in
                guard v.principal.can(.dataImport) else { return try pages.forbidden(v) }
                guard let id = Int64(try context.parameters.require("id")) else { return try console.views.notFound(title: "No such upload") }
                return try await run(v, id, form)
            }
        }
        router.get("/console/import/:id/rejected.csv") { request, context in
            try await console.signedIn(request, .console) { v in
                guard v.principal.can(.dataImport) else { return try pages.forbidden(v) }
                guard let id = Int64(try context.parameters.require("id")), let upload = try await s.access.upload(id, of: v.principal),
                    let outcome = Self.outcome(upload)
                else { return try console.views.notFound(title: "No such upload") }
                let mapped = try CSVMapping.remap(upload.content, targets: outcome.mapping)
                let text = try CSVMapping.records(mapped, lines: outcome.rejections)
                return Response(
                    status: .ok,
                    headers: [
                        .contentType: "text/csv; charset=utf-8", .contentDisposition: "attachment; filename=\"rejected-rows.csv\"", .cacheControl: "no-store",
                    ], body: .init(byteBuffer: ByteBuffer(string: text)))
            }
        }
    }

    static func outcome(_ upload: Upload) -> Outcome? {
        upload.detail.flatMap { try? JSONDecoder().decode(Outcome.self, from: Data($0.utf8)) }
    }

    static func encode(_ o: Outcome) -> String { String(decoding: (try? JSONEncoder().encode(o)) ?? Data(), as: UTF8.self) }

    func start(_ v: Visitor, error: String? = nil) async throws -> Response {
        guard v.principal.can(.dataImport) else { return try pages.forbidden(v) }
        return try console.views.page(
            .console, visitor: v, title: "Import customers", template: "import",
            [
                "error": error as Any, "upload": true, "maximum": "\(AccessService.maximumUpload >> 20) MiB",
                "columns": CustomerImporter.columns.map { ["name": $0.name, "meaning": $0.meaning] },
            ])
    }

    /// The mapping step, the dry run's findings, or the import's progress and result.
    func step(_ v: Visitor, _ id: Int64, error: String? = nil, chosen: [String?]? = nil) async throws -> Response {
        guard v.principal.can(.dataImport) else { return try pages.forbidden(v) }
        guard let upload = try await s.access.upload(id, of: v.principal) else { return try console.views.notFound(title: "No such upload") }
        let (header, rows) = try CSVMapping.peek(upload.content, rows: 5)
        let outcome = Self.outcome(upload)
        let known = Set(CustomerImporter.columns.map(\.name))
        let mapping = chosen ?? outcome?.mapping ?? header.map { h in CSVMapping.guess(h) ?? (known.contains(h) ? h : nil) }
        let targets = [("", "— leave out —")] + CustomerImporter.columns.map { ($0.name, $0.meaning) }
        var values: [String: Any] = [
            "error": error as Any, "id": id, "name": upload.name, "state": upload.state, "running": upload.state == "running",
            "refresh": (upload.state == "running" ? "2" : nil) as Any,
            "columns": header.enumerated().map { i, h -> [String: Any] in
                let current = i < mapping.count ? mapping[i] : nil
                let attribute = current?.hasPrefix("attr_") == true
                return [
                    "index": i, "header": h, "sample": rows.first.map { i < $0.count ? $0[i] : "" } ?? "",
                    "options": targets.map { ["value": $0.0, "label": $0.1, "selected": ($0.0.isEmpty ? nil : $0.0) == current] }
                        + [["value": "attr", "label": "A custom attribute named after the column", "selected": attribute]],
                ]
            },
            "preview": rows.map { row in
                ["cells": header.indices.compactMap { i -> String? in
                    (i < mapping.count ? mapping[i] : nil) == nil ? nil : (i < row.count ? row[i] : "")
                }]
            },
            "previewHeader": mapping.compactMap { $0 },
        ]
        if let o = outcome {
            values["outcome"] = [
                "dryRun": o.dryRun, "finished": o.finished, "rows": Format.number(o.rows), "created": Format.number(o.created),
                "updated": Format.number(o.updated), "rejected": Format.number(o.rejected), "anyRejected": o.rejected > 0,
                "failure": o.failure as Any, "seconds": String(format: "%.1f", o.seconds),
                "rejections": o.rejections.sorted { $0.key < $1.key }.prefix(100).map { ["line": $0.key, "reason": $0.value] },
                "more": (o.rejections.count > 100 ? Format.number(o.rejections.count - 100) : nil) as Any,
            ] as [String: Any]
        }
        // While it runs, the page reloads itself every two seconds (a meta refresh) to show the progress.
        return try console.views.page(.console, visitor: v, title: "Import \(upload.name)", template: "import", values)
    }

    func run(_ v: Visitor, _ id: Int64, _ form: Form) async throws -> Response {
        guard let upload = try await s.access.upload(id, of: v.principal) else { return try console.views.notFound(title: "No such upload") }
        let (header, _) = try CSVMapping.peek(upload.content, rows: 0)
        // The mapping: each column's target, a custom attribute named after it, or left out.
        var targets: [String?] = []
        for (i, h) in header.enumerated() {
            switch form["map_\(i)"] ?? "" {
            case "": targets.append(nil)
            case "attr":
                let name = h.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "_" }
                targets.append("attr_" + String(name).trimmingCharacters(in: CharacterSet(charactersIn: "_")))
            case let t where CustomerImporter.columns.contains { $0.name == t }: targets.append(t)
            default: targets.append(nil)
            }
        }
        let chosenTargets = targets
        let used = targets.compactMap { $0 }
        if let twice = Dictionary(grouping: used, by: { $0 }).first(where: { $0.value.count > 1 })?.key {
            return try await step(v, id, error: "Two columns are mapped to \(twice); map each to a different field.", chosen: targets)
        }
        if used.isEmpty { return try await step(v, id, error: "Map at least one column.", chosen: targets) }
        let dryRun = form["mode"] != "import"
        let mapped: String
        do { mapped = try CSVMapping.remap(upload.content, targets: targets) } catch let problem as CSVMapping.Unreadable {
            return try await step(v, id, error: "The file cannot be read as CSV: \(problem.description)", chosen: targets)
        }
        let path = try Self.staged(mapped)
        let customers = s.customers, access = s.access, principal = v.principal
        let work: @Sendable () async -> Outcome = {
            defer { try? FileManager.default.removeItem(atPath: path) }
            var outcome = Outcome(dryRun: dryRun, rows: 0, mapping: chosenTargets)
            var importer = CustomerImporter(customers: customers, dryRun: dryRun)
            if !dryRun {
                importer.onBatch = { rows in
                    var progress = Outcome(dryRun: false, rows: rows, mapping: chosenTargets)
                    progress.heartbeat = Date()
                    _ = try? await access.setUpload(id, of: principal, state: "running", detail: Self.encode(progress))
                }
            }
            let rejected = RejectionBox()
            do {
                let report = try await importer.run(file: path) { r in rejected.add(r.line, "\(r.column): \(r.reason)") }
                outcome.rows = report.rows
                outcome.created = report.created
                outcome.updated = report.updated
                outcome.rejected = report.rejected
                outcome.linked = report.linked
                outcome.seconds = report.seconds
            } catch {
                outcome.failure = "\(error)".replacingOccurrences(of: path, with: "the file")
            }
            outcome.rejections = rejected.all
            outcome.finished = true
            return outcome
        }
        if dryRun {
            let outcome = await work()
            try await access.setUpload(id, of: principal, state: "uploaded", detail: Self.encode(outcome))
            return try await step(v, id, chosen: targets)
        }
        // One import at a time per upload: it starts from the state read above (a concurrent start
        // loses the race), and not while another runs, unless that one fell silent (its server stopped).
        let silent = Self.outcome(upload)?.heartbeat.map { Date().timeIntervalSince($0) > Self.stalled } ?? true
        guard upload.state != "running" || silent else { return try await step(v, id, error: "This file is being imported already.") }
        var started = Outcome(dryRun: false, rows: 0, mapping: targets)
        started.heartbeat = Date()
        guard try await access.setUpload(id, of: principal, state: "running", detail: Self.encode(started), from: upload.state) else {
            return try await step(v, id, error: "This file is being imported already.")
        }
        Task {
            let outcome = await work()
            _ = try? await access.setUpload(id, of: principal, state: outcome.failure == nil ? "done" : "failed", detail: Self.encode(outcome))
        }
        return Response.redirect(to: "/console/import/\(id)")
    }
}

extension ImportPages {
    /// `text` written to a new file in the temporary directory for the import to read (and remove
    /// when it is done), readable by Patron's own user only: it holds customers' contact details.
    static func staged(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("patron-import-\(UUID().uuidString).csv").path
        guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
        return path
    }
}

/// Rejections collected while the importer reads (its callback is synchronous).
final class RejectionBox: @unchecked Sendable {
    private let lock = NSLock()
    private var reasons: [Int: String] = [:]

    func add(_ line: Int, _ reason: String) {
        lock.lock()
        defer { lock.unlock() }
        if let earlier = reasons[line] { reasons[line] = earlier + "; " + reason } else { reasons[line] = reason }
    }

    var all: [Int: String] {
        lock.lock()
        defer { lock.unlock() }
        return reasons
    }
}
