import Foundation
import Logging
import OmnichatCore
import Synchronization

/// Customers' profile pictures from the networks' profile APIs (LINE's
/// profile, Messenger's `profile_pic`, Telegram's `getUserProfilePhotos`),
/// looked up once per contact and kept in the contact row, so the allocation
/// webhook, the compatible routes and the console carry `avatar_url`.
///
/// - A picture the customer came with (the custom channel's `user.avatar_url`)
///   is never replaced.
/// - A lookup takes at most `timeout` per call; a customer without a picture
///   (or a network that did not answer) is not asked about again for
///   `retryAfter`, by this daemon.
/// - Telegram's file URLs carry the bot token: the contact keeps our own
///   address for it instead, `GET /api/v1/rooms/{room_id}/customer_avatar`,
///   which fetches the file with the channel's credentials.
final class CustomerAvatars: Sendable {
    let store: any ConversationPort & CustomerStore
    let transport: any HTTPTransport
    let channels: ChannelRegistry
    let publicBaseURL: String
    let logger: Logger
    static let timeout: Duration = .seconds(3)
    static let retryAfter: TimeInterval = 86_400
    static let maxMisses = 100_000
    /// Calls of one lookup at most (Telegram takes two).
    static let maxSteps = 4
    private let state = Mutex(State())

    struct State {
        var misses: [Int64: Date] = [:]
        var inFlight: [Int64: Task<String?, Never>] = [:]
    }

    init(store: any ConversationPort & CustomerStore, transport: any HTTPTransport, channels: ChannelRegistry, publicBaseURL: String, logger: Logger) {
        self.store = store
        self.transport = transport
        self.channels = channels
        self.publicBaseURL = publicBaseURL.hasSuffix("/") ? String(publicBaseURL.dropLast()) : publicBaseURL
        self.logger = logger
    }

    /// The customer's picture: the one kept, or looked up now and kept. `nil`
    /// when there is none. Concurrent callers for one contact share one lookup.
    func url(for room: Room) async -> String? {
        if let url = room.contact.avatarURL, !url.isEmpty { return url }
        let contactID = room.contact.id
        let task = state.withLock { state -> Task<String?, Never>? in
            if let running = state.inFlight[contactID] { return running }
            if let missed = state.misses[contactID], Date().timeIntervalSince(missed) < Self.retryAfter { return nil }
            let task = Task { await self.lookUp(room) }
            state.inFlight[contactID] = task
            return task
        }
        guard let task else { return nil }
        let url = await task.value
        state.withLock { state in
            state.inFlight[contactID] = nil
            let now = Date()
            if url == nil { state.misses[contactID] = now } else { state.misses[contactID] = nil }
            // Bounded: past 100,000 remembered misses, the ones older than a day go.
            if state.misses.count > Self.maxMisses {
                state.misses = state.misses.filter { now.timeIntervalSince($0.value) < Self.retryAfter }
                // Still full (a burst of new contacts): forget them all rather than filter on every miss.
                if state.misses.count > Self.maxMisses / 2 { state.misses.removeAll() }
            }
        }
        return url
    }

    /// Looks the picture up in the background for a new session (the console
    /// shows it; the allocation webhook, when it comes, finds it kept).
    func follow(_ bus: EventBus) {
        let stream = bus.subscribe(buffer: 10_000)
        Task { [self] in
            for await transition in stream where transition.from == nil {
                guard let room = try? await store.room(id: transition.roomID) else { continue }
                _ = await url(for: room)
            }
        }
    }

    private func lookUp(_ given: Room) async -> String? {
        guard lookup(for: given) != nil else { return nil }
        // The caller's room may predate a lookup that just finished.
        let room = (try? await store.room(id: given.id)) ?? given
        if let url = room.contact.avatarURL, !url.isEmpty { return url }
        let found: String
        do {
            switch try await picture(for: room, timeout: Self.timeout) {
            case .redirect(let url): found = url
            case .file: found = ownURL(roomID: room.id)
            case .none: return nil
            }
        } catch {
            logger.info(
                "profile picture lookup failed",
                metadata: ["omnichat.channel": "\(room.channelID)", "omnichat.contact": "\(room.contact.id)", "omnichat.error": "\(error)"])
            return nil
        }
        do {
            try await store.setContactAvatar(contactID: room.contact.id, url: found)
        } catch {
            logger.warning("profile picture not kept", metadata: ["omnichat.contact": "\(room.contact.id)", "omnichat.error": "\(error)"])
        }
        return found
    }

    /// The daemon's own address for a picture only the channel's credentials can fetch.
    func ownURL(roomID: Int64) -> String { "\(publicBaseURL)/api/v1/rooms/\(roomID)/customer_avatar" }

    /// Whether a kept address is the daemon's own (so the network must be asked).
    func isOwn(_ url: String) -> Bool { url.hasPrefix(publicBaseURL + "/api/v1/rooms/") }

    /// The channel's first profile call for this customer, when lookups are on and the network has them.
    private func lookup(for room: Room) -> AvatarLookup? {
        guard channels.channel(room.channelID)?.profilePictures == true else { return nil }
        return channels.adapter(for: room.channelID)?.avatar(externalID: room.contact.externalID)
    }

    /// Runs a lookup to its end for the avatar route: a public address, or a
    /// private file's bytes, or nothing.
    enum Picture {
        case redirect(String)
        case file(MediaFetch)
        case none
    }

    /// Walks the network's profile calls (at most `maxSteps`) to their answer.
    func picture(for room: Room, timeout: Duration = .seconds(10)) async throws -> Picture {
        guard var lookup = lookup(for: room) else { return .none }
        for _ in 0..<Self.maxSteps {
            let response = try await transport.send(lookup.request, timeout: timeout)
            switch lookup.read(response) {
            case .url(let url): return .redirect(url)
            case .next(let following): lookup = following
            case .privateFile(let fetch): return .file(fetch)
            case .none: return .none
            }
        }
        return .none
    }
}
