import Access
import App
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Jobs
import Logging
import SharedModels
import TestSupport
import Testing

/// The jobs as an admin sees them: over the API and on the console's Jobs page.
@Suite struct JobsPageTests {
    @Test("admins see each job's status and runs, make one due, retry a failed run; others are refused", arguments: TestEngine.available)
    func jobsForAdmins(engine: TestEngine) async throws {
        try await withAPI(engine) { api, patron, admin in
            let runner = patron.jobRunner(logger: Logger(label: "test"))
            try await runner.register()
            await runner.runDue(only: ["expiry", "campaigns"])
            _ = try await patron.access.addUser(email: "ada@x.com", password: "password1", role: .agent)
            let ada = try await api.logIn("ada@x.com", "password1")
            #expect(try await api.call(.get, "/v1/jobs", token: ada).status == 403)
            let overview = try await api.call(.get, "/v1/jobs?runs=10", token: admin)
            #expect(overview.status == 200, "\(overview.text)")
            let jobs = (overview.json["jobs"] as? [[String: Any]]) ?? []
            #expect(Set(jobs.compactMap { $0["name"] as? String }) == ["expiry", "sla-alerts", "campaigns", "scoring", "segments", "tier-review", "settlements", "partitions"])
            #expect(jobs.first { $0["name"] as? String == "expiry" }?["lastOutcome"] as? String == "succeeded")
            let runs = (overview.json["runs"] as? [[String: Any]]) ?? []
            #expect(runs.count == 2 && runs.allSatisfy { $0["outcome"] as? String == "succeeded" })
            let due = try await api.call(.post, "/v1/jobs/settlements/run", token: admin)
            #expect(due.status == 202 && due.json["status"] as? String == "due", "\(due.text)")
            #expect(try await api.call(.post, "/v1/jobs/nothing/run", token: admin).code == "job_not_found")
            #expect(try await api.call(.post, "/v1/job-runs/999/retry", token: admin).code == "job_run_not_found")
        }
    }

    @Test("the console's Jobs page is the admin's", arguments: TestEngine.available)
    func consolePage(engine: TestEngine) async throws {
        try await TestDatabase.withPatron(engine) { p in
            _ = try await p.access.addUser(email: "ada@x.com", password: "password1", role: .agent)
            _ = try await p.access.addUser(email: "root@x.com", password: "password1", role: .admin)
            try await p.jobRunner(logger: Logger(label: "test")).register()
            let app = Application(router: try buildRouter(patron: p))
            try await app.test(.router) { client in
                let ada = try await WebVisitor.signIn(client, "console", "email=ada%40x.com&password=password1")
                let root = try await WebVisitor.signIn(client, "console", "email=root%40x.com&password=password1")
                #expect(try await ada.get("/console/admin/jobs").status == .forbidden)
                let (status, html) = try await root.get("/console/admin/jobs")
                #expect(status == .ok && html.contains("tier-review") && html.contains("daily at 04:00 UTC") && html.contains("Run now"))
                let after = try await root.post("/console/admin/jobs", "job=scoring", tokenPage: "/console/admin/jobs")
                #expect(after.body.contains("scoring is due now"), "\(after.body.prefix(300))")
            }
        }
    }
}
