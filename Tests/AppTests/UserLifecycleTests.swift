import Access
import App
import Channels
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SharedModels
import TestSupport
import Testing

/// Staff users over time in the console (#17): role changes, deactivation that ends sessions,
/// password resets by real email (aiosmtpd) that work once, and changing one's own password.
@Suite struct UserLifecycleTests {
    @Test("an admin changes a role, deactivates and reactivates a user, and emails a reset link that works once", arguments: TestEngine.available)
    func lifecycle(engine: TestEngine) async throws {
        let sinks = try MessageSinks()
        try await TestDatabase.withPatron(engine, settings: { $0.channels = ChannelSettings(smtpURL: "smtp://127.0.0.1:\(sinks.smtpPort)") }) { p in
            _ = try await p.access.addUser(email: "root@x.com", password: "password1", role: .admin)
            let ada = try await p.access.addUser(email: "ada@x.com", password: "password1", role: .agent)
            let app = Application(router: try buildRouter(patron: p))
            try await app.test(.router) { client in
                let root = try await WebVisitor.signIn(client, "console", "email=root%40x.com&password=password1")
                let agent = try await WebVisitor.signIn(client, "console", "email=ada%40x.com&password=password1")
                #expect(try await agent.get("/console/admin").status == .forbidden)

                let promoted = try await root.post("/console/admin/users/\(ada.id)/role", "role=analyst", tokenPage: "/console/admin")
                #expect(promoted.body.contains("ada@x.com is now analyst"))
                #expect(try await p.access.users().first { $0.id == ada.id }?.role == .analyst)

                // Deactivated: the open session ends and the password no longer opens the console.
                let off = try await root.post("/console/admin/users/\(ada.id)/deactivate", "", tokenPage: "/console/admin")
                #expect(off.body.contains("is deactivated"))
                #expect(try await agent.get("/console/").status == .seeOther)
                await #expect(throws: (any Error).self) {
                    _ = try await WebVisitor.signIn(client, "console", "email=ada%40x.com&password=password1")
                }
                // The last administrator cannot be demoted or switched off, nor anyone deactivate themselves.
                let me = try #require(try await p.access.users().first { $0.email == "root@x.com" })
                let selfOff = try await root.post("/console/admin/users/\(me.id)/deactivate", "", tokenPage: "/console/admin")
                #expect(selfOff.status == .unprocessableContent && selfOff.body.contains("cannot deactivate yourself"))
                let demote = try await root.post("/console/admin/users/\(me.id)/role", "role=agent", tokenPage: "/console/admin")
                #expect(demote.status == .unprocessableContent && demote.body.contains("last active administrator"))

                _ = try await root.post("/console/admin/users/\(ada.id)/reactivate", "", tokenPage: "/console/admin")
                let reset = try await root.post("/console/admin/users/\(ada.id)/reset", "", tokenPage: "/console/admin")
                #expect(reset.body.contains("A link to set a new password was sent to ada@x.com"), "\(reset.body.prefix(400))")
                let mail = try #require(sinks.mail.last { $0.to == "ada@x.com" })
                let link = try #require(mail.data.firstMatch(of: /\/console\/reset\/([A-Za-z0-9_-]+)/)).output.1
                try await client.execute(
                    uri: "/console/reset/\(link)", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                    body: ByteBuffer(string: "password=brand-new-pass&again=brand-new-pass")
                ) { r in #expect(r.status == .ok && String(buffer: r.body).contains("Your password is changed")) }
                // Once only.
                try await client.execute(
                    uri: "/console/reset/\(link)", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                    body: ByteBuffer(string: "password=other-pass-1&again=other-pass-1")
                ) { r in #expect(String(buffer: r.body).contains("expired or was used already")) }
                let back = try await WebVisitor.signIn(client, "console", "email=ada%40x.com&password=brand-new-pass")
                // Changing one's own password checks the current one.
                let wrong = try await back.post("/console/password", "current=nope&password=third-pass-1&again=third-pass-1", tokenPage: "/console/password")
                #expect(wrong.body.contains("current password is not right"))
                let changed = try await back.post(
                    "/console/password", "current=brand-new-pass&password=third-pass-1&again=third-pass-1", tokenPage: "/console/password")
                #expect(changed.status == .seeOther && changed.location == "/console/login?changed=1")
                _ = try await WebVisitor.signIn(client, "console", "email=ada%40x.com&password=third-pass-1")

                // Forgot password: the same answer for a stranger's email, and no email sent.
                let before = sinks.mail.count
                try await client.execute(
                    uri: "/console/forgot", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                    body: ByteBuffer(string: "email=nobody%40x.com")
                ) { r in #expect(String(buffer: r.body).contains("If that email address has a login")) }
                #expect(sinks.mail.count == before)
            }
        }
    }
}
