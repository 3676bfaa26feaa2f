import Foundation

/// A CSV file as the console's import wizard handles it: its header and first rows to map, the
/// file rewritten under the columns the importer knows, and the records of given lines (the
/// rejected rows to download).
public enum CSVMapping {
    /// What a file that cannot be read at all looks like to people: where and why.
    public struct Unreadable: Error, CustomStringConvertible, Sendable {
        public let line: Int
        public let reason: String
        public var description: String { "Line \(line): \(reason)." }
    }

    /// The header and up to `rows` records after it.
    public static func peek(_ text: String, rows: Int) throws -> (header: [String], rows: [[String]]) {
        var parser = CSVParser(bytes: Array(text.utf8))
        do {
            guard let header = try parser.next() else { throw Unreadable(line: 1, reason: "the file is empty") }
            var out: [[String]] = []
            while out.count < rows, let record = try parser.next() { out.append(record) }
            return (header.map { $0.trimmingCharacters(in: .whitespaces) }, out)
        } catch let failure as CSVParser.Failure {
            throw Unreadable(line: failure.line, reason: failure.reason)
        }
    }

    /// The file with each column renamed to its target (nil drops the column), written as CSV the
    /// importer reads; records keep their order, so the importer's line numbers are this file's.
    public static func remap(_ text: String, targets: [String?]) throws -> String {
        var parser = CSVParser(bytes: Array(text.utf8))
        var out = ""
        do {
            guard try parser.next() != nil else { throw Unreadable(line: 1, reason: "the file is empty") }
            out += line(targets.compactMap { $0 })
            while let record = try parser.next() {
                var fields: [String] = []
                for (i, target) in targets.enumerated() where target != nil { fields.append(i < record.count ? record[i] : "") }
                out += line(fields)
            }
        } catch let failure as CSVParser.Failure {
            throw Unreadable(line: failure.line, reason: failure.reason)
        }
        return out
    }

    /// The header and the records that start on `lines`, each with `reasons[line]` after it.
    public static func records(_ text: String, lines reasons: [Int: String]) throws -> String {
        var parser = CSVParser(bytes: Array(text.utf8))
        guard let header = try parser.next() else { return "" }
        var out = line(header + ["rejected_because"])
        while let record = try parser.next() {
            if let reason = reasons[parser.recordLine] { out += line(record + [reason]) }
        }
        return out
    }

    /// One CSV line as the importer reads it back: quoted only where needed, values unchanged.
    static func line(_ fields: [String]) -> String {
        fields.map { f in
            f.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) ? "\"" + f.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : f
        }.joined(separator: ",") + "\n"
    }

    /// The importer's column a header most likely means (`E-mail` → `email`, `Zip` → `postal_code`), or nil.
    public static func guess(_ header: String) -> String? {
        let key = header.lowercased().filter { $0.isLetter || $0.isNumber }
        let synonyms: [String: String] = [
            "id": "customer_id", "customerid": "customer_id", "customernumber": "customer_id", "customerno": "customer_id", "firstname": "first_name", "givenname": "first_name",
            "forename": "first_name", "lastname": "last_name", "surname": "last_name", "familyname": "last_name", "email": "email",
            "emailaddress": "email", "mail": "email", "phone": "phone", "phonenumber": "phone", "mobile": "phone", "telephone": "phone",
            "tel": "phone", "birthdate": "birth_date", "dateofbirth": "birth_date", "dob": "birth_date", "birthday": "birth_date",
            "language": "language", "lang": "language", "lifestage": "life_stage", "homestore": "home_store", "store": "home_store",
            "address": "address_line1", "addressline1": "address_line1", "street": "address_line1", "address1": "address_line1",
            "addressline2": "address_line2", "address2": "address_line2", "postalcode": "postal_code", "postcode": "postal_code",
            "zip": "postal_code", "zipcode": "postal_code", "city": "city", "town": "city", "region": "region", "state": "region",
            "county": "region", "country": "country", "latitude": "latitude", "lat": "latitude", "longitude": "longitude", "lon": "longitude",
            "lng": "longitude", "card": "card_number", "cardnumber": "card_number", "loyaltycard": "card_number",
        ]
        return synonyms[key]
    }
}

extension CustomerImporter {
    /// The columns a customer file may have, with what each holds, in the order people fill them.
    public static let columns: [(name: String, meaning: String)] = [
        ("customer_id", "Customer number (kept; an existing one is updated)"), ("first_name", "First name"), ("last_name", "Last name"),
        ("email", "Email"), ("phone", "Phone"), ("birth_date", "Birth date (YYYY-MM-DD)"), ("language", "Language"),
        ("life_stage", "Life stage"), ("home_store", "Home store"), ("address_line1", "Address line 1"), ("address_line2", "Address line 2"),
        ("postal_code", "Postal code"), ("city", "City"), ("region", "Region"), ("country", "Country"), ("latitude", "Latitude"),
        ("longitude", "Longitude"), ("card_number", "Card number"),
    ]
}
