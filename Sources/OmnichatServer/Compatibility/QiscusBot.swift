import Foundation
import Hummingbird
import OmnichatCore

/// The hosted product's bot: the webhook it POSTs to a bot (`[bot] format =
/// "qiscus"`), the route a bot posts with (`POST /{app_id}/bot`) and the one
/// that turns the bot off for a room (`POST /bot/{room_id}/activate`).
enum QiscusBot {
    /// A customer's message as the hosted product gives it to a bot.
    static func webhook(_ message: OutboundMessage) -> [String: Any] {
        let content = message.content
        let seconds = Int64(message.now.timeIntervalSince1970)
        let room = String(message.roomID)
        let options = (try? QiscusWebhooks.json(["channel": message.channelID])) ?? "{}"
        var payload: Any = [String: Any]()
        if content.type != .text { payload = IntegrationSigner.content(content) }
        return [
            "type": "post_comment_mobile",
            "payload": [
                // The customer: the hosted product names them by their user id and email;
                // here the network's id of the conversation stands for both.
                "from": [
                    "id": message.roomID, "id_str": room, "email": message.conversationID, "name": message.conversationID, "avatar_url": "",
                ] as [String: Any],
                "room": [
                    "id": room, "id_str": room, "name": message.conversationID, "options": options,
                    "participants": [["email": message.conversationID]], "room_avatar": "", "topic_id": room, "topic_id_str": room,
                    "type": "group", "is_public_channel": false,
                ] as [String: Any],
                "message": [
                    "id": message.messageID, "id_str": String(message.messageID),
                    "text": content.text ?? content.url ?? "", "type": content.type == .text ? "text" : "custom",
                    "payload": payload, "created_at": message.now.iso8601, "timestamp": message.now.iso8601,
                    "unix_timestamp": String(seconds), "unix_nano_timestamp": String(seconds * 1_000_000_000),
                    "unique_temp_id": "", "comment_before_id": 0, "comment_before_id_str": "0", "disable_link_preview": false,
                ] as [String: Any],
            ] as [String: Any],
        ]
    }
}

/// The bot's two routes, with a `bot` API key (or, for `activate`, a supervisor or admin).
struct QiscusBotRoutes: Sendable {
    let qiscus: QiscusRoutes
    var api: APIRoutes { qiscus.api }
    var store: any Store { api.store }

    func register(on router: Router<some RequestContext>) {
        router.post("/:app_id/bot") { request, context in try await qiscus.compat { try await post(request, context) } }
        router.post("/bot/:room_id/activate") { request, context in try await qiscus.compat { try await activate(request, context) } }
    }

    func botKey(_ request: Request) async throws -> APIKey {
        switch try await api.auth.principal(of: request) {
        case .key(let key) where key.scope == .bot: return key
        case .key(let key): throw APIError.forbidden("API key scope '\(key.scope.rawValue)' cannot post as the bot")
        case .user: throw APIError.forbidden("this route is for a bot's API key")
        }
    }

    /// `{"sender_email", "message", "type", "room_id"}`: the bot's message in a room it has.
    func post(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let key = try await botKey(request)
        guard try context.parameters.require("app_id") == api.auth.appID else { throw APIError.notFound("no app '\(try context.parameters.require("app_id"))'") }
        let input = try await QiscusInput(request)
        let room = try await qiscus.room(input.string("room_id"))
        guard room.status == .bot else {
            throw APIError(.conflict, "conflict", "room '\(room.id)' is \(room.status.rawValue): the bot handed it over")
        }
        let type = input.string("type") ?? "text"
        let text = input.string("message")
        guard (text ?? "").count <= 65_536 else { throw APIError.unprocessable("'message' is longer than 65536 characters") }
        let contents = try QiscusBotMessages.contents(type: type, message: text, payload: input.value("payload"))
        var comments: [[String: Any]] = []
        for content in contents {
            let message = try await api.replies.send(content, in: room, user: nil, key: key)
            comments.append([
                "id": message.id, "id_str": String(message.id), "room_id": String(room.id), "message": content.text ?? content.url ?? "",
                "type": type, "created_at": message.createdAt.iso8601,
            ])
        }
        return QiscusRoutes.envelope(["comment": comments[0], "comments": comments])
    }

    /// `is_active=false` hands the room over to the agents (as `POST /api/v1/rooms/{id}/handover`);
    /// `true` keeps a room the bot has (a room goes back to its bot only at a new session).
    func activate(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let principal = try await api.auth.principal(of: request)
        switch principal {
        case .key(let key) where key.scope == .bot: break
        case .user(let user) where user.role >= .supervisor: break
        default: throw APIError.forbidden("this needs a bot API key or the supervisor role")
        }
        let room = try await qiscus.room(try context.parameters.require("room_id"))
        let input = try await QiscusInput(request)
        guard let raw = input.string("is_active"), ["true", "false", "1", "0"].contains(raw.lowercased()) else {
            throw APIError.unprocessable("'is_active' must be true or false")
        }
        if input.flag("is_active") {
            guard room.status == .bot else {
                throw APIError(.conflict, "conflict", "room '\(room.id)' is \(room.status.rawValue); the bot takes a room again at its next session")
            }
        } else if room.status == .bot {
            let transition = try await store.handover(roomID: room.id, divisionID: room.divisionID, note: nil, actor: principal.actor)
            await qiscus.routing.after(transition, rescan: false)
            await api.rooms.needsAgent(room.id)
        }
        let fresh = try await store.room(id: room.id) ?? room
        return QiscusRoutes.envelope(["room_id": String(fresh.id), "is_bot_active": fresh.status == .bot])
    }
}
