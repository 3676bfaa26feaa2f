/// Two active customers that are probably the same person, and why.
public struct DuplicateCandidate: Sendable, Hashable {
    public enum Reason: String, Sendable {
        case sameEmail = "same_email", samePhone = "same_phone", similarNameSameAddress = "similar_name_same_address"
    }

    public var customerID: CustomerID
    public var otherCustomerID: CustomerID
    public var reason: Reason
    /// 0–1; 1 for a shared email or phone, the name similarity otherwise.
    public var score: Double

    public init(customerID: CustomerID, otherCustomerID: CustomerID, reason: Reason, score: Double) {
        self.customerID = customerID
        self.otherCustomerID = otherCustomerID
        self.reason = reason
        self.score = score
    }
}

/// Two people at the same postal code whose names may be alike, as read from storage.
public struct NamePair: Sendable {
    public var first: CustomerID
    public var firstName: String
    public var firstStreet: String
    public var second: CustomerID
    public var secondName: String
    public var secondStreet: String

    public init(first: CustomerID, firstName: String, firstStreet: String, second: CustomerID, secondName: String, secondStreet: String) {
        self.first = first
        self.firstName = firstName
        self.firstStreet = firstStreet
        self.second = second
        self.secondName = secondName
        self.secondStreet = secondStreet
    }
}

/// Jaro–Winkler similarity of two strings, 0 (nothing alike) to 1 (equal), case-insensitive.
/// Catches typos and transpositions typical of hand-typed names ("Jon Smtih" ~ "John Smith").
public enum NameSimilarity {
    public static func jaroWinkler(_ a: String, _ b: String) -> Double {
        let s1 = Array(a.lowercased()), s2 = Array(b.lowercased())
        if s1.isEmpty && s2.isEmpty { return 1 }
        if s1.isEmpty || s2.isEmpty { return 0 }
        let window = max(max(s1.count, s2.count) / 2 - 1, 0)
        var matched1 = [Bool](repeating: false, count: s1.count)
        var matched2 = [Bool](repeating: false, count: s2.count)
        var matches = 0
        for i in 0..<s1.count {
            let low = max(0, i - window), high = min(i + window + 1, s2.count)
            guard low < high else { continue }
            for j in low..<high where !matched2[j] && s1[i] == s2[j] {
                matched1[i] = true
                matched2[j] = true
                matches += 1
                break
            }
        }
        if matches == 0 { return 0 }
        var transpositions = 0
        var k = 0
        for i in 0..<s1.count where matched1[i] {
            while !matched2[k] { k += 1 }
            if s1[i] != s2[k] { transpositions += 1 }
            k += 1
        }
        let m = Double(matches)
        let jaro = (m / Double(s1.count) + m / Double(s2.count) + (m - Double(transpositions) / 2) / m) / 3
        var prefix = 0
        while prefix < min(4, s1.count, s2.count) && s1[prefix] == s2[prefix] { prefix += 1 }
        return jaro + Double(prefix) * 0.1 * (1 - jaro)
    }

    /// The pairs whose names are at least `threshold` alike and whose street lines are at least 0.85 alike.
    public static func candidates(from pairs: [NamePair], threshold: Double = 0.9) -> [DuplicateCandidate] {
        pairs.compactMap { pair in
            let score = jaroWinkler(pair.firstName, pair.secondName)
            guard score >= threshold, jaroWinkler(pair.firstStreet, pair.secondStreet) >= 0.85 else { return nil }
            return DuplicateCandidate(customerID: pair.first, otherCustomerID: pair.second, reason: .similarNameSameAddress, score: score)
        }
    }
}
