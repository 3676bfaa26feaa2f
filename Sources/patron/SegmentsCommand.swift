import App
import Demo
import Interchange
import ArgumentParser
import Campaigns
import Foundation
import SharedModels

/// `patron segments …`: segments in the rule language from the command line.
struct Segments: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Segments: count and preview a rule, save segments, snapshot, compare and export them.",
        subcommands: [Count.self, Preview.self, Create.self, List.self, Snapshot.self, Overlap.self, ExportMembers.self, Refresh.self])

    static func find(_ nameOrID: String, in patron: Patron) async throws -> Segment {
        if let id = Int64(nameOrID), let s = try? await patron.segments.segment(SegmentID(id)) { return s }
        guard let s = try await patron.segments.segment(named: nameOrID) else { throw fail("no segment named '\(nameOrID)'") }
        return s
    }

    struct Count: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "How many customers a rule selects now.")
        @OptionGroup var db: DatabaseOption
        @Option(help: "The rule, e.g. 'member.tier in [\"Gold\"] and churn.risk > 0.5'.") var rule: String
        @Flag(help: "Print a JSON object as the last line.") var json = false

        func run() async throws {
            let (count, ms) = try await db.with { patron in try await reporting { try await patron.segments.count(rule: rule) } }
            print("\(count) customers (\(String(format: "%.1f", ms)) ms)")
            if json { print(#"{"count":\#(count),"count_ms":\#(String(format: "%.3f", ms))}"#) }
        }
    }

    struct Preview: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The first customers a rule selects.")
        @OptionGroup var db: DatabaseOption
        @Option var rule: String
        @Option var limit: Int = 20

        func run() async throws {
            let members = try await db.with { patron in try await reporting { try await patron.segments.preview(rule: rule, limit: limit) } }
            for m in members {
                print("\(m.customer)\t\(m.name)\t\(m.email ?? "")\t\(m.tier ?? "")\t\(m.clv.map { String(format: "%.2f", $0) } ?? "")")
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Save a segment (dynamic, or static: a frozen snapshot of today's members).")
        @OptionGroup var db: DatabaseOption
        @Option var name: String
        @Option var rule: String
        @Option var description: String?
        @Flag(help: "Freeze today's members.") var `static` = false
        @Option(help: "The owner (a staff email).") var owner: String = "cli"

        func run() async throws {
            let segment = try await db.with { patron in
                try await reporting {
                    try await patron.segments.create(
                        SegmentDraft(name: name, description: description, rule: rule, kind: `static` ? .static : .dynamic), owner: owner)
                }
            }
            print(
                "created segment \(segment.id) '\(segment.name)' (\(segment.kind.rawValue))"
                    + (segment.snapshotCount.map { ", \($0) members frozen" } ?? ""))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every segment with its size now.")
        @OptionGroup var db: DatabaseOption

        func run() async throws {
            try await db.with { patron in
                for s in try await patron.segments.segments() {
                    let size = try await reporting { try await patron.segments.size(of: s.id) }
                    print("\(s.id)\t\(s.name)\t\(s.kind.rawValue)\t\(size)\t\(s.owner)\t\(s.rule)")
                }
            }
        }
    }

    struct Snapshot: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Freeze a static segment's members again.")
        @OptionGroup var db: DatabaseOption
        @Argument(help: "Segment name or id.") var segment: String

        func run() async throws {
            let s = try await db.with { patron in
                let s = try await Segments.find(segment, in: patron)
                return try await reporting { try await patron.segments.snapshot(s.id) }
            }
            print("\(s.name): \(s.snapshotCount ?? 0) members frozen")
        }
    }

    struct Overlap: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Customers in both of two segments, and in each.")
        @OptionGroup var db: DatabaseOption
        @Argument var first: String
        @Argument var second: String

        func run() async throws {
            let (a, b, o) = try await db.with { patron in
                let a = try await Segments.find(first, in: patron)
                let b = try await Segments.find(second, in: patron)
                return (a, b, try await reporting { try await patron.segments.overlap(a.id, b.id) })
            }
            print("\(a.name): \(o.first), \(b.name): \(o.second), both: \(o.both)")
        }
    }

    struct ExportMembers: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "export", abstract: "Write a segment's members as CSV.")
        @OptionGroup var db: DatabaseOption
        @Argument(help: "Segment name or id.") var segment: String
        @Option(help: "File to write; standard output if absent.") var output: String?

        func run() async throws {
            let handle = try Export.output(output)
            let count = try await db.with { patron in
                let s = try await Segments.find(segment, in: patron)
                return try await reporting { try await patron.segments.exportCSV(s.id) { handle.write(Data($0.utf8)) } }
            }
            FileHandle.standardError.write(Data("exported \(count) customers\n".utf8))
        }
    }

    struct Refresh: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Rebuild what segment rules read (the nightly job does it after scoring).")
        @OptionGroup var db: DatabaseOption

        func run() async throws {
            let n = try await db.with { try await $0.segments.refresh() }
            print("segment facts rebuilt for \(n) customers")
        }
    }
}
