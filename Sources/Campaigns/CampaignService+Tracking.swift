import Expressions
import Foundation
import SharedModels

// Tracking
extension CampaignService {

    /// The message a tracked link's token names, when the token is genuine.
    public func message(token: String) async throws -> OutboundMessage? {
        guard let (key, secret) = OutboundMessage.key(fromToken: token), let m = try await store.message(key), m.secret == secret else { return nil }
        return m
    }

    /// A tracked link was followed: records the click (and the open it implies) and returns where to go.
    public func click(token: String, link: Int) async throws -> String? {
        guard let m = try await message(token: token) else { return nil }
        let links = try await store.links(m.key.campaign, wave: m.key.wave)
        guard links.indices.contains(link) else { return nil }
        let now = clock.now
        _ = try await store.record([
            m.response(.opened, at: now),
            m.response(.clicked, reference: links[link], at: now),
        ])
        return links[link]
    }

    /// The open-tracking image was loaded.
    public func opened(token: String) async throws {
        guard let m = try await message(token: token) else { return }
        _ = try await store.record([
            m.response(.opened, at: clock.now)
        ])
    }

    /// The unsubscribe link was confirmed: marketing consent on the channel is withdrawn. Returns false for an unknown token.
    public func unsubscribe(token: String) async throws -> Bool {
        guard let m = try await message(token: token) else { return false }
        let now = clock.now
        try await store.unsubscribe(customer: m.key.customer, channel: m.channel, campaign: m.key.campaign, at: now)
        _ = try await store.record([
            m.response(.unsubscribed, at: now)
        ])
        return true
    }

    /// A delivery receipt from a gateway or mail service: `delivered` or `bounced`.
    public func receipt(token: String, kind: Response.Kind) async throws -> Bool {
        guard kind == .delivered || kind == .bounced || kind == .opened else {
            throw CampaignError.invalid(field: "event", reason: "a receipt is delivered, bounced or opened")
        }
        guard let m = try await message(token: token) else { return false }
        if kind == .opened {
            _ = try await store.record([m.response(.opened, at: clock.now)])
        } else {
            try await store.settle([(m.key, kind == .bounced ? .bounced("reported by the gateway") : .delivered)], at: clock.now)
        }
        return true
    }
}
