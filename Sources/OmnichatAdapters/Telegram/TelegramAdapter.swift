import Foundation
import OmnichatCore

/// Telegram Bot API: webhooks with an optional secret header, one `Update` per request.
public struct TelegramAdapter: ChannelAdapter {
    public static let kind = "telegram"
    static let secretHeader = "X-Telegram-Bot-Api-Secret-Token"
    static let answerCallbackAction = "answer_callback"

    public let channelID: String
    public let configuration: TelegramConfiguration

    public var capabilities: ChannelCapabilities {
        ChannelCapabilities(
            textLimit: TelegramRenderer.textLimit, maxQuickReplies: TelegramRenderer.maxButtons,
            supportedOutbound: [.text, .image, .file, .audio, .video, .sticker, .location])
    }

    public init(channelID: String, configuration: TelegramConfiguration) {
        self.channelID = channelID
        self.configuration = configuration
    }

    public init(channelID: String, settings: ChannelSettings) throws {
        self.init(channelID: channelID, configuration: try TelegramConfiguration(settings: settings))
    }

    // MARK: Inbound

    public var configurationWarnings: [String] {
        configuration.secretToken == nil
            ? ["allow_unsigned = true and no secret_token: anyone who learns this channel's webhook URL can post forged updates"] : []
    }

    public func verify(_ request: WebhookRequest) throws(WebhookError) {
        guard let expected = configuration.secretToken else { return }
        guard let given = request.header(Self.secretHeader) else {
            throw WebhookError(.unauthorized, "missing \(Self.secretHeader) header")
        }
        guard ConstantTime.equals(given, expected) else {
            throw WebhookError(.unauthorized, "wrong \(Self.secretHeader) header")
        }
    }

    public func parse(_ request: WebhookRequest) throws(WebhookError) -> [InboundEvent] {
        try parse(request, fastPath: true)
    }

    /// `fastPath: false` decodes every body with `JSONDecoder` (tests compare both ways).
    func parse(_ request: WebhookRequest, fastPath: Bool) throws(WebhookError) -> [InboundEvent] {
        try WebhookLimits.checkDepth(request.body)
        let update: TelegramUpdate
        do {
            if fastPath, let json = FastJSON(request.body), let fast = try? TelegramUpdate(fast: json) {
                update = fast
            } else {
                update = try JSONDecoder().decode(TelegramUpdate.self, from: request.body)
            }
        } catch {
            // Only the failure path pays for a second look at the body.
            guard JSON.object(request.body) != nil else { throw WebhookError(.malformed, "body is not a JSON object") }
            throw WebhookError(.malformed, "not a Telegram update: \(Self.describe(error))")
        }
        let raw = String(decoding: request.body, as: UTF8.self)
        let eventID = String(update.updateID)

        if let message = update.message ?? update.channelPost {
            return [event(eventID, message, raw: raw, edited: false)]
        }
        if let message = update.editedMessage ?? update.editedChannelPost {
            return [event(eventID, message, raw: raw, edited: true)]
        }
        if let query = update.callbackQuery {
            let conversation = query.message?.chat.id ?? query.from.id
            return [
                InboundEvent(
                    eventID: eventID,
                    conversationID: String(conversation),
                    contact: contact(query.from, chat: query.message?.chat),
                    content: MessageContent(type: .postback, text: query.data, payload: query.data),
                    networkMessageID: nil,
                    occurredAt: Date(),
                    raw: raw,
                    followUp: AdapterAction(name: Self.answerCallbackAction, parameters: ["callback_query_id": query.id]))
            ]
        }
        if let member = update.myChatMember, let chat = member.chat, let status = member.newChatMember?.status {
            return [memberEvent(eventID, member, chat: chat, status: status, raw: raw)]
        }
        // An update kind we do not handle: kept as unsupported, acknowledged.
        let conversation = Self.anyConversation(in: request.body)
        return [
            InboundEvent(
                eventID: eventID, conversationID: conversation.map(String.init) ?? "",
                contact: ContactProfile(externalID: conversation.map(String.init) ?? ""),
                content: MessageContent(type: .unsupported), occurredAt: Date(), raw: raw)
        ]
    }

    private func event(_ eventID: String, _ message: TelegramMessage, raw: String, edited: Bool) -> InboundEvent {
        var content = Self.content(of: message)
        content.edited = edited
        var kind = InboundKind.message
        // A group's service messages: who joined or left, as notices of the group's room.
        if let joined = message.newChatMembers, !joined.isEmpty {
            kind = .system("joined")
            content = MessageContent(type: .unsupported, text: joined.compactMap(\.displayName).joined(separator: ", "))
        } else if let left = message.leftChatMember {
            kind = .system("left")
            content = MessageContent(type: .unsupported, text: left.displayName)
        }
        // In a group each message names its sender, and the room is titled with the group's name.
        if message.inGroup && kind == .message { content.senderName = message.from?.displayName }
        let seconds = (edited ? message.editDate : nil) ?? message.date
        return InboundEvent(
            eventID: eventID,
            conversationID: String(message.chat.id),
            contact: contact(message.from, chat: message.chat),
            content: content,
            networkMessageID: String(message.messageID),
            occurredAt: seconds.map { Date(timeIntervalSince1970: TimeInterval($0)) } ?? Date(),
            raw: raw, kind: kind, conversationTitle: message.inGroup ? message.chat.title : nil)
    }

    /// The bot's membership changed: in a private chat the user blocked
    /// (`kicked`) or unblocked (`member`) it; in a group it was added or removed.
    private func memberEvent(_ eventID: String, _ update: TelegramMemberUpdate, chat: TelegramChat, status: String, raw: String) -> InboundEvent {
        let present = ["member", "administrator", "creator", "restricted"].contains(status)
        let isPrivate = chat.type == nil || chat.type == "private"
        let name: String
        let who: String?
        if isPrivate {
            name = present ? "unblocked" : "blocked"
            who = update.from?.displayName ?? chat.displayName
        } else {
            // The bot added to or removed from a group: recorded only; the group's own
            // service message (new_chat_members, left_chat_member) is the notice.
            name = present ? "bot_added" : "bot_removed"
            who = update.newChatMember?.user?.displayName
        }
        return InboundEvent(
            eventID: eventID, conversationID: String(chat.id),
            contact: contact(update.from, chat: chat), content: MessageContent(type: .unsupported, text: who),
            occurredAt: update.date.map { Date(timeIntervalSince1970: TimeInterval($0)) } ?? Date(), raw: raw, kind: .system(name))
    }

    private func contact(_ user: TelegramUser?, chat: TelegramChat?) -> ContactProfile {
        if let user {
            return ContactProfile(externalID: String(user.id), displayName: user.displayName, username: user.username)
        }
        return ContactProfile(
            externalID: chat.map { String($0.id) } ?? "", displayName: chat?.displayName, username: chat?.username)
    }

    static func content(of m: TelegramMessage) -> MessageContent {
        if let text = m.text { return .text(text) }
        if let sizes = m.photo, !sizes.isEmpty {
            let largest = sizes.max { a, b in
                let areaA = (a.width ?? 0) * (a.height ?? 0)
                let areaB = (b.width ?? 0) * (b.height ?? 0)
                return areaA != areaB ? areaA < areaB : (a.fileSize ?? 0) < (b.fileSize ?? 0)
            }!
            return MessageContent(type: .image, text: m.caption, mediaID: largest.fileID)
        }
        if let f = m.document ?? m.animation {
            return MessageContent(type: .file, text: m.caption, mediaID: f.fileID, fileName: f.fileName, mimeType: f.mimeType)
        }
        if let f = m.audio ?? m.voice {
            return MessageContent(type: .audio, text: m.caption, mediaID: f.fileID, fileName: f.fileName ?? f.title, mimeType: f.mimeType)
        }
        if let f = m.video ?? m.videoNote {
            return MessageContent(type: .video, text: m.caption, mediaID: f.fileID, fileName: f.fileName, mimeType: f.mimeType)
        }
        if let s = m.sticker {
            return MessageContent(type: .sticker, text: s.emoji, mediaID: s.fileID)
        }
        if let v = m.venue {
            return MessageContent(
                type: .location,
                location: GeoLocation(latitude: v.location.latitude, longitude: v.location.longitude, title: v.title, address: v.address))
        }
        if let l = m.location {
            return MessageContent(type: .location, location: GeoLocation(latitude: l.latitude, longitude: l.longitude))
        }
        if let c = m.contact {
            let name = [c.firstName, c.lastName].compactMap { $0 }.joined(separator: " ")
            return MessageContent(type: .contact, contact: ContactCard(phoneNumber: c.phoneNumber, name: name.isEmpty ? nil : name))
        }
        return MessageContent(type: .unsupported, text: m.caption)
    }

    /// The chat (or sender) id of an update kind we do not model, if it has one.
    static func anyConversation(in body: Data) -> Int64? {
        guard let object = JSON.object(body) else { return nil }
        for (key, value) in object where key != "update_id" {
            guard let inner = value as? [String: Any] else { continue }
            if let chat = inner["chat"] as? [String: Any], let id = JSON.int64(chat["id"]) { return id }
            if let from = inner["from"] as? [String: Any], let id = JSON.int64(from["id"]) { return id }
        }
        return nil
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, let context):
            let path = (context.codingPath + [key]).map(\.stringValue).joined(separator: ".")
            return "missing field '\(path)'"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return "field '\(path)' has the wrong type"
        case DecodingError.dataCorrupted(let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? "invalid JSON" : "field '\(path)' is invalid"
        default:
            return "invalid JSON"
        }
    }

    // MARK: Outbound

    public func render(_ message: OutboundMessage) throws(RenderError) -> [HTTPRequestDescription] {
        TelegramRenderer(configuration: configuration).render(message)
    }

    /// `getFile` gives a path; the file is then at `<api_base>/file/bot<token>/<path>`.
    public func media(for content: MessageContent, networkMessageID: String?) -> MediaFetch? {
        content.mediaID.map { Self.file($0, configuration) }
    }

    /// `getFile`, then the file at the path it gives.
    static func file(_ fileID: String, _ configuration: TelegramConfiguration) -> MediaFetch {
        MediaFetch(request: .json(url: configuration.methodURL("getFile"), object: ["file_id": fileID])) { response in
            guard response.status == 200, let object = JSON.object(response.body),
                let result = object["result"] as? [String: Any], let path = result["file_path"] as? String
            else { return nil }
            return HTTPRequestDescription(method: "GET", url: "\(configuration.apiBase)/file/bot\(configuration.token)/\(path)")
        }
    }

    /// `getUserProfilePhotos` (the newest photo, its largest size), then the
    /// file through `getFile`. Telegram's file URL carries the bot token, so
    /// the picture is a private file the daemon serves itself. A user whose
    /// privacy settings hide their photo from bots has none here.
    public func avatar(externalID: String) -> AvatarLookup? {
        guard let userID = Int64(externalID) else { return nil }
        let configuration = self.configuration
        return AvatarLookup(request: .json(url: configuration.methodURL("getUserProfilePhotos"), object: ["user_id": userID, "limit": 1])) { response in
            guard response.status == 200, let object = JSON.object(response.body), let result = object["result"] as? [String: Any],
                let photos = result["photos"] as? [[[String: Any]]], let sizes = photos.first,
                let largest = sizes.max(by: { ($0["width"] as? Int ?? 0) < ($1["width"] as? Int ?? 0) }),
                let fileID = largest["file_id"] as? String
            else { return .none }
            return .privateFile(Self.file(fileID, configuration))
        }
    }

    public func render(action: AdapterAction) -> HTTPRequestDescription? {
        guard action.name == Self.answerCallbackAction, let id = action.parameters["callback_query_id"] else { return nil }
        return .json(url: configuration.methodURL("answerCallbackQuery"), object: ["callback_query_id": id])
    }

    public func classify(_ response: HTTPResponseDescription) -> DeliveryOutcome {
        let body = try? JSONDecoder().decode(TelegramResponse.self, from: response.body)
        let description = body?.description ?? "HTTP \(response.status)"
        switch response.status {
        case 200..<300:
            if body?.ok == false { return .permanent(reason: description) }
            return .delivered(networkMessageID: body?.result?.messageID.map(String.init))
        case 429:
            let after = body?.parameters?.retryAfter ?? response.header("Retry-After").flatMap { Int($0) }
            return .retry(after: after.map { .seconds($0) }, reason: "rate limited: \(description)")
        case 500...:
            return .retry(after: nil, reason: "server error: \(description)")
        default:
            return .permanent(reason: description)
        }
    }

    public func webhookRegistration(url: String) -> HTTPRequestDescription? {
        var body: [String: Any] = [
            "url": url,
            "allowed_updates": ["message", "edited_message", "channel_post", "callback_query"],
        ]
        if let secret = configuration.secretToken { body["secret_token"] = secret }
        return .json(url: configuration.methodURL("setWebhook"), object: body)
    }
}
