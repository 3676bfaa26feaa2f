import Foundation
import SharedModels

public typealias HouseholdID = ID<Household>
public typealias AccountID = ID<Account>

/// People who live together; loyalty may pool their points.
public struct Household: Sendable, Equatable {
    public var id: HouseholdID
    public var name: String
    public var memberIDs: [CustomerID]
    public var createdAt: Date

    public init(id: HouseholdID, name: String, memberIDs: [CustomerID], createdAt: Date) {
        self.id = id
        self.name = name
        self.memberIDs = memberIDs
        self.createdAt = createdAt
    }
}

/// A business customer (B2B). A-class accounts are the most valuable and have a key-account manager.
public struct Account: Sendable, Equatable {
    public enum Class: String, Sendable, Codable, CaseIterable { case a = "A", b = "B", c = "C" }

    public struct Contact: Sendable, Equatable {
        public var customerID: CustomerID
        public var displayName: String
        public var role: String?

        public init(customerID: CustomerID, displayName: String, role: String?) {
            self.customerID = customerID
            self.displayName = displayName
            self.role = role
        }
    }

    public var id: AccountID
    public var draft: AccountDraft
    public var contacts: [Contact]
    /// Accounts whose parent is this one (a global account's subsidiaries).
    public var childIDs: [AccountID]
    public var createdAt: Date

    public init(id: AccountID, draft: AccountDraft, contacts: [Contact], childIDs: [AccountID], createdAt: Date) {
        self.id = id
        self.draft = draft
        self.contacts = contacts
        self.childIDs = childIDs
        self.createdAt = createdAt
    }
}

/// The editable terms of a B2B account.
public struct AccountDraft: Sendable, Equatable {
    public var name: String
    public var accountClass: Account.Class
    /// Email of the staff user managing the account; required for A-class accounts.
    public var keyAccountManager: String?
    public var creditLimit: Money?
    /// Days the customer has to pay an invoice, 0–365.
    public var paymentTermsDays: Int
    public var parentID: AccountID?

    public init(
        name: String, accountClass: Account.Class = .c, keyAccountManager: String? = nil, creditLimit: Money? = nil,
        paymentTermsDays: Int = 30, parentID: AccountID? = nil
    ) {
        self.name = name
        self.accountClass = accountClass
        self.keyAccountManager = keyAccountManager
        self.creditLimit = creditLimit
        self.paymentTermsDays = paymentTermsDays
        self.parentID = parentID
    }

    /// Throws ``CustomerError/invalid(_:)`` naming each broken rule.
    public func validated() throws -> AccountDraft {
        var errors: [FieldError] = []
        var copy = self
        copy.name = name.trimmingSpaces()
        if copy.name.isEmpty || copy.name.count > 200 { errors.append(FieldError("name", "must be 1 to 200 characters")) }
        if let manager = keyAccountManager {
            if let email = EmailAddress(manager) {
                copy.keyAccountManager = email.value
            } else {
                errors.append(FieldError("keyAccountManager", "not an email address"))
            }
        } else if accountClass == .a {
            errors.append(FieldError("keyAccountManager", "A-class accounts need a key-account manager"))
        }
        if let limit = creditLimit {
            if !Money.isCurrencyCode(limit.currency) { errors.append(FieldError("creditLimit.currency", "not an ISO 4217 code")) }
            if limit.minorUnits < 0 { errors.append(FieldError("creditLimit.amount", "must not be negative")) }
        }
        if !(0...365).contains(paymentTermsDays) { errors.append(FieldError("paymentTermsDays", "must be 0 to 365")) }
        if !errors.isEmpty { throw CustomerError.invalid(errors) }
        return copy
    }
}
