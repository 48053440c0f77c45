import Foundation
import GRDB
import OmnichatCore

/// Group commit for webhook ingests. The first request to arrive while no
/// commit runs starts one; requests that arrive meanwhile wait and go into the
/// next transaction together. Each request gets its own savepoint, so one bad
/// request rolls back alone; each caller resumes only after the commit that
/// holds its events (or with the error that lost them).
///
/// Back-pressure: when the disk falls behind, requests are refused rather
/// than queued without bound. A request finding `maxPending` others waiting,
/// or still waiting (not yet in a commit) after `deadline`, is answered with
/// `StoreError.busy` having stored nothing, so the network redelivers later
/// and the answer still comes within its deadline (LINE: 2 s).
actor IngestBatcher {
    struct Limits: Sendable {
        var maxPending = 4096
        var deadline: Duration = .milliseconds(1500)
    }

    /// One caller's work: run inside its own savepoint, then told the outcome
    /// once the transaction holding it has committed (or failed).
    private struct Entry {
        var perform: @Sendable (Database) -> Bool
        var finish: @Sendable ((any Error)?) -> Void
        var since: ContinuousClock.Instant
        /// Webhook ingests may be refused under back-pressure (the network
        /// redelivers); agents' replies and delivery records always wait.
        var sheddable: Bool
    }

    /// Where a caller's value waits between its savepoint and the commit.
    private final class Slot<T>: @unchecked Sendable {
        var result: Result<T, any Error> = .failure(StoreError(.invalid, "not run"))
    }

    private let pool: DatabasePool
    private let limits: Limits
    private var pending: [Entry] = []
    private var committing = false
    private var sweeping = false
    private(set) var refused = 0
    static let maxRequestsPerCommit = 512

    init(pool: DatabasePool, limits: Limits = Limits()) {
        self.pool = pool
        self.limits = limits
    }

    var waiting: Int { pending.count }

    func submit(_ prepared: IngestWriter.Prepared) async throws -> IngestResult {
        try await write(sheddable: true) { db in try IngestWriter.write(prepared, db: db) }
    }

    /// Runs `body` in the next group commit, in its own savepoint: an error
    /// rolls back this caller's statements only and is thrown to it.
    func write<T: Sendable>(sheddable: Bool = false, _ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            if sheddable && pending.count >= limits.maxPending {
                refused += 1
                continuation.resume(throwing: StoreError(.busy, "the store is behind: \(pending.count) webhook requests are waiting for a commit"))
                return
            }
            let slot = Slot<T>()
            pending.append(
                Entry(
                    perform: { db in
                        do {
                            slot.result = .success(try body(db))
                            return true
                        } catch let error as StoreError {
                            slot.result = .failure(error)
                        } catch {
                            slot.result = .failure(sheddable ? StoreError(.invalid, "could not store events: \(error)") : error)
                        }
                        return false
                    },
                    finish: { error in
                        if let error { continuation.resume(throwing: error) } else { continuation.resume(with: slot.result) }
                    },
                    since: .now, sheddable: sheddable))
            if !committing {
                committing = true
                Task { await self.drain() }
            } else if !sweeping {
                sweeping = true
                Task { await self.sweep() }
            }
        }
    }

    /// While requests wait behind a commit, refuses webhooks past the deadline.
    private func sweep() async {
        let tick = min(limits.deadline / 4, .milliseconds(100))
        while !pending.isEmpty {
            do { try await Task.sleep(for: tick) } catch { break }
            let limit = ContinuousClock.now - limits.deadline
            guard pending.contains(where: { $0.sheddable && $0.since < limit }) else { continue }
            var kept: [Entry] = []
            for entry in pending {
                if entry.sheddable && entry.since < limit {
                    entry.finish(StoreError(.busy, "the store is behind: no commit within \(limits.deadline)"))
                    refused += 1
                } else {
                    kept.append(entry)
                }
            }
            pending = kept
        }
        sweeping = false
    }

    private func drain() async {
        while !pending.isEmpty {
            let take = min(pending.count, Self.maxRequestsPerCommit)
            let group = Array(pending.prefix(take))
            pending.removeFirst(take)
            do {
                try await pool.write { db in
                    for entry in group {
                        try db.inSavepoint { entry.perform(db) ? .commit : .rollback }
                    }
                }
                for entry in group { entry.finish(nil) }
            } catch {
                for entry in group { entry.finish(error) }
            }
        }
        committing = false
    }
}
