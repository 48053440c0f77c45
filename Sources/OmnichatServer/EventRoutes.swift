import Foundation
import Hummingbird
import OmnichatCore

/// `GET /api/v1/events`: the live event stream (Server-Sent Events).
struct EventRoutes: Sendable {
    let api: APIRoutes
    /// How often a stream's credential is checked again.
    static let recheck: Duration = .seconds(5)
    /// Open streams one user may have (tabs, devices): `max_streams_per_user`.
    var maxStreamsPerUser = 5
    /// Bytes one stream may have waiting for its reader (`StreamOutbox`):
    /// `max_stream_buffer_bytes`.
    var maxBufferBytes = 256 << 10

    func register(on router: Router<some RequestContext>) {
        router.get("/api/v1/events") { request, _ in try await stream(request) }
    }

    /// Authenticates with `Authorization: Bearer` or `?access_token=` (browsers'
    /// EventSource cannot set headers); resumes after `Last-Event-ID` (header or
    /// `?last_event_id=`). A resume point older than what is kept gets a
    /// `stream.reset` event first: the client must refetch what it shows.
    ///
    /// The credential is checked again every `recheck` (and the stream ends with
    /// a `stream.revoked` event) so a stream never outlives a sign-out, a
    /// deactivation or a role change.
    func stream(_ request: Request) async throws -> Response {
        let query = APIRoutes.Query(request)
        let user: User
        let token: String?
        if Authenticator.bearer(request) == nil, let given = query["access_token"] {
            user = try await api.auth.user(sessionToken: given)
            token = given
        } else {
            user = try await api.auth.user(of: request)
            token = Authenticator.bearer(request)
        }
        let auth = api.auth
        let recheck = Self.recheck
        // Why the stream must end now, or nil while the credential still holds.
        let revoked: @Sendable () async -> String? = {
            guard let token else { return "the credential is gone" }
            do {
                let now = try await auth.user(sessionToken: token)
                return now.role == user.role ? nil : "the role changed"
            } catch let error as APIError where error.code == "deactivated" {
                return "the account was deactivated"
            } catch let error as APIError where error.status == .unauthorized {
                return "the session ended"
            } catch {
                return nil  // the store is unavailable for a moment: keep the stream, ask again
            }
        }
        var resume = LiveEvents.Resume.fromNow
        let header = request.headers.first { $0.name.canonicalName == "last-event-id" }?.value
        if let raw = header ?? query["last_event_id"] {
            guard let id = Int64(raw.trimmingCharacters(in: .whitespaces)) else {
                throw APIError.unprocessable("Last-Event-ID must be an event id this server sent")
            }
            resume = .after(id)
        }
        let live = api.live
        // A client that opens stream after stream (each holds memory and a task) is refused.
        guard live.streamCount(userID: user.id) < maxStreamsPerUser else {
            throw APIError(
                .tooManyRequests, "too_many_streams",
                "at most \(maxStreamsPerUser) event streams per user are open at once; close one first",
                headers: [.retryAfter: "5"])
        }
        let subscription = live.subscription(user: user, resume: resume)
        let (replay, complete, events) = (subscription.replay, subscription.complete, subscription.events)
        let budget = maxBufferBytes
        let body = ResponseBody { writer in
            try await writer.write(ByteBuffer(string: "retry: 2000\n: connected\n\n"))
            if !complete {
                try await writer.write(ByteBuffer(string: "event: stream.reset\ndata: {\"reason\":\"the resume point is older than the events kept\"}\n\n"))
            }
            for event in replay { try await writer.write(ByteBuffer(string: event.sse)) }
            // Events and a heartbeat merge into one output bounded in bytes: a
            // client that stops reading is reset, never buffered without end.
            let output = StreamOutbox(budget: budget)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await event in events {
                        // Reset (the reader fell behind): the subscription ends at once,
                        // whether or not the response can still be written.
                        guard output.push(event.sse) else { break }
                    }
                    subscription.end()
                    output.finish()
                }
                group.addTask {
                    // Each check also writes a keep-alive: it keeps proxies from
                    // closing an idle stream, and a client that went away is
                    // noticed (and its subscription ended) within one period.
                    while !Task.isCancelled {
                        try await Task.sleep(for: recheck)
                        if let reason = await revoked() {
                            output.finish(with: "event: stream.revoked\ndata: {\"reason\":\"\(reason)\"}\n\n")
                            return
                        }
                        guard output.push(": keep-alive\n\n") else { return }
                    }
                }
                while let lines = await output.next() { try await writer.write(ByteBuffer(string: lines.joined())) }
                group.cancelAll()
            }
            try await writer.finish(nil)
        }
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-cache", .init("X-Accel-Buffering")!: "no"],
            body: body)
    }
}
