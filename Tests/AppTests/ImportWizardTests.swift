import Access
import App
import Customers
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SharedModels
import TestSupport
import Testing

/// The console's import wizard (#17): a CSV with a spreadsheet's own headers is uploaded, mapped,
/// previewed and dry-run (nothing written, each rejected row named), imported in the background
/// with its progress, and its rejected rows downloaded with their reasons.
@Suite struct ImportWizardTests {
    static let file = """
        Customer No,Given name,Surname,E-mail,Mobile,Street,Zip,Favourite colour
        ,Ann,Lee,ann@example.com,(555) 010-0101,1 High St,LS1,green
        ,Bo,Chan,not-an-email,555.010.0102,2 Mill Ln,LS2,blue
        ,Cy,Dee,cy@example.com,555-010-0103,3 Low Rd,LS3,
        abc,Di,Eve,di@example.com,,4 Bank St,LS4,red
        ,Ed,Fox,ed@example.com,,,LS5,

        """

    @Test("upload, map, preview, dry run (nothing written), import with progress, rejected rows downloaded with reasons", arguments: TestEngine.available)
    func wizard(engine: TestEngine) async throws {
        try await TestDatabase.withPatron(engine) { p in
            _ = try await p.access.addUser(email: "root@x.com", password: "password1", role: .admin)
            _ = try await p.access.addUser(email: "ada@x.com", password: "password1", role: .agent)
            let app = Application(router: try buildRouter(patron: p))
            try await app.test(.router) { client in
                let root = try await WebVisitor.signIn(client, "console", "email=root%40x.com&password=password1")
                let before = try await p.customers.list(CustomerListQuery(limit: 1)).total
                let uploaded = try await root.upload("/console/import", field: "file", filename: "shop.csv", content: Self.file, tokenPage: "/console/import")
                let page = try #require(uploaded.location)
                #expect(uploaded.status == .ok && uploaded.body.contains("2. Map the columns of shop.csv"), "\(uploaded.body.prefix(300))")
                // The spreadsheet's headers are guessed: E-mail → email, Mobile → phone, Zip → postal_code.
                for (i, target) in [(0, "customer_id"), (1, "first_name"), (2, "last_name"), (3, "email"), (4, "phone"), (5, "address_line1"), (6, "postal_code")] {
                    #expect(uploaded.body.contains(try Regex(#"name="map_\#(i)">.*?<option value="\#(target)" selected>"#)), "column \(i) → \(target)")
                }
                #expect(uploaded.body.contains("<td>ann@example.com</td>"), "the preview")
                let mapping = "map_0=customer_id&map_1=first_name&map_2=last_name&map_3=email&map_4=phone&map_5=address_line1&map_6=postal_code&map_7=attr"
                let dry = try await root.post(page + "/run", mapping + "&mode=dry", tokenPage: page)
                #expect(dry.body.contains("Dry run: nothing was written"), "\(dry.body.prefix(300))")
                #expect(dry.body.contains(#"<dd id="import-rejected">3</dd>"#))
                #expect(dry.body.contains("address_line1: must be 1 to 200 characters"), "Regression: a postcode without a street was dropped unseen")
                #expect(dry.body.contains("email: ") && dry.body.contains("customer_id: &#39;abc&#39; is not a whole number"), "each rejected row names its column and reason")
                #expect(try await p.customers.list(CustomerListQuery(limit: 1)).total == before, "a dry run writes nothing")
                // Two columns on one field are refused by name.
                let twice = try await root.post(page + "/run", "map_0=email&map_3=email&mode=dry", tokenPage: page)
                #expect(twice.status == .unprocessableContent && twice.body.contains("Two columns are mapped to email"))
                // The import runs in the background; the page shows it, then the result.
                _ = try await root.post(page + "/run", mapping + "&mode=import", tokenPage: page)
                var result = ""
                for _ in 0..<100 {
                    result = try await root.get(page).body
                    if result.contains("Imported</h2>") { break }
                    try await Task.sleep(for: .milliseconds(50))
                }
                #expect(result.contains("Imported</h2>") && result.contains(#"<dd id="import-rejected">3</dd>"#), "\(result.prefix(400))")
                #expect(try await p.customers.list(CustomerListQuery(limit: 1)).total == before + 2)
                let cy = try #require(try await p.customers.list(CustomerListQuery(text: "cy@example.com", limit: 1)).items.first)
                #expect(cy.profile.phones.first?.value == "+15550100103" && cy.profile.addresses.first?.postalCode == "LS3")
                let ann = try #require(try await p.customers.list(CustomerListQuery(text: "ann@example.com", limit: 1)).items.first)
                #expect(ann.profile.attributes["favourite_colour"] == "green", "an unmapped column kept as a custom attribute")
                let rejected = try await root.get(page + "/rejected.csv")
                let lines = rejected.body.split(separator: "\n")
                #expect(lines.count == 4 && lines[0].hasSuffix("rejected_because") && lines[1].contains("Bo") && lines[2].contains("abc") && lines[3].contains("Ed"), "\(rejected.body)")
                // Another user's upload is not theirs; an agent has no import.
                let ada = try await WebVisitor.signIn(client, "console", "email=ada%40x.com&password=password1")
                #expect(try await ada.get(page).status == .forbidden)
                #expect(try await ada.get("/console/import").status == .forbidden)
                // A file that is not CSV text is refused with a sentence, and nothing is kept.
                let broken = try await root.upload("/console/import", field: "file", filename: "x.csv", content: "a,\"b\nc", tokenPage: "/console/import")
                #expect(broken.status == .unprocessableContent && broken.body.contains("cannot be read as CSV"))
            }
        }
    }
}
