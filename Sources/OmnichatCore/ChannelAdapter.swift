import Foundation

/// What a network can render, so that nothing outside an adapter names a network.
public struct ChannelCapabilities: Sendable, Equatable {
    /// Longest text one message may carry; longer text is split in order.
    public var textLimit: Int
    /// Most buttons under one message; 0 when the network has none (they become a numbered list).
    public var maxQuickReplies: Int
    /// Message types the network renders natively; others are degraded to text.
    public var supportedOutbound: Set<MessageType>
    /// Whether the adapter uses the room's reply context (a single-use reply token).
    public var consumesReplyContext: Bool
    /// Whether the network sends delivery or read receipts.
    public var receipts: Bool

    public init(
        textLimit: Int, maxQuickReplies: Int, supportedOutbound: Set<MessageType>, consumesReplyContext: Bool = false,
        receipts: Bool = false
    ) {
        self.textLimit = textLimit
        self.maxQuickReplies = maxQuickReplies
        self.supportedOutbound = supportedOutbound
        self.consumesReplyContext = consumesReplyContext
        self.receipts = receipts
    }
}

/// Why a message cannot be rendered for its network (outside a messaging
/// window, say). The reply is marked failed with this reason.
public struct RenderError: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String

    public init(_ reason: String) {
        self.reason = reason
    }

    public var description: String { reason }
}

/// How to fetch an inbound attachment: one request, or a first request whose
/// answer names the second (WhatsApp: media id → URL → bytes).
public struct MediaFetch: Sendable {
    public var request: HTTPRequestDescription
    public var next: (@Sendable (HTTPResponseDescription) -> HTTPRequestDescription?)?
    /// Why the channel refuses to fetch it (a host off its allowlist); nothing is fetched.
    public var refusal: String?

    /// A GET of a URL that came from outside (not the operator's files): the
    /// transport connects to public addresses only.
    public static func remote(_ url: String) -> MediaFetch {
        var request = HTTPRequestDescription(method: "GET", url: url)
        request.publicAddressesOnly = true
        return MediaFetch(request: request)
    }

    public init(request: HTTPRequestDescription, next: (@Sendable (HTTPResponseDescription) -> HTTPRequestDescription?)? = nil) {
        self.request = request
        self.next = next
    }
}

/// How a network answered one outbound call.
public enum DeliveryOutcome: Sendable, Equatable {
    case delivered(networkMessageID: String?)
    /// Try again; `after` is the network's own hint when it gave one.
    case retry(after: Duration?, reason: String)
    case permanent(reason: String)
}

/// The answer to a webhook handshake (Meta's GET verify, say).
public struct HandshakeResponse: Sendable, Equatable {
    public var status: Int
    public var body: String

    public init(status: Int, body: String) {
        self.status = status
        self.body = body
    }
}

/// Why a webhook request was refused.
public struct WebhookError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// Signature or secret wrong or missing: 401.
        case unauthorized
        /// Not JSON, or not the shape the network sends: 400.
        case malformed
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

/// An outbound message ready to be rendered for one network.
public struct OutboundMessage: Sendable, Equatable {
    /// The network's conversation id (Telegram chat id).
    public var conversationID: String
    public var content: MessageContent
    /// Our id of the message: stable across retries (an idempotency key).
    public var messageID: Int64
    /// When the customer last wrote (for networks with a messaging window).
    public var lastInboundAt: Date?
    /// The room's reply context, when this is the first reply to use it.
    public var replyContext: [String: String]?
    /// Who sends it (an agent's name), for networks that show it.
    public var senderName: String?
    /// The time of rendering (window checks compare against it).
    public var now: Date
    /// Our room and channel (integration webhooks name them).
    public var roomID: Int64
    public var channelID: String

    public init(
        conversationID: String, content: MessageContent, messageID: Int64 = 0, lastInboundAt: Date? = nil,
        replyContext: [String: String]? = nil, senderName: String? = nil, now: Date = Date(), roomID: Int64 = 0,
        channelID: String = ""
    ) {
        self.conversationID = conversationID
        self.content = content
        self.messageID = messageID
        self.lastInboundAt = lastInboundAt
        self.replyContext = replyContext
        self.senderName = senderName
        self.now = now
        self.roomID = roomID
        self.channelID = channelID
    }
}

/// One network, as the daemon sees it. Adapters are pure: they turn a verified
/// request into events and a reply into request descriptions, and do no I/O.
public protocol ChannelAdapter: Sendable {
    /// The `kind` a drop-in names to use this adapter.
    static var kind: String { get }
    /// Decodes and validates a channel's drop-in settings.
    init(channelID: String, settings: ChannelSettings) throws

    var channelID: String { get }
    var capabilities: ChannelCapabilities { get }

    /// Answers a GET on the webhook route; `nil` when the network has no handshake.
    func handshake(_ request: WebhookRequest) -> HandshakeResponse?
    /// Checks authenticity over the raw request. Throws `.unauthorized`.
    func verify(_ request: WebhookRequest) throws(WebhookError)
    /// Turns a verified request into events. Throws `.malformed` for bodies that are not the network's shape.
    func parse(_ request: WebhookRequest) throws(WebhookError) -> [InboundEvent]
    /// The calls that deliver one message, in order (long text is split, say).
    /// Throws when the network cannot take the message at all (a closed window).
    func render(_ message: OutboundMessage) throws(RenderError) -> [HTTPRequestDescription]
    /// The call for an adapter's follow-up action; `nil` for an unknown action.
    func render(action: AdapterAction) -> HTTPRequestDescription?
    /// Reads the network's answer to one call.
    func classify(_ response: HTTPResponseDescription) -> DeliveryOutcome
    /// The call that points the network's webhook at `url`, for networks that register by API.
    func webhookRegistration(url: String) -> HTTPRequestDescription?
    /// How to fetch an inbound message's attachment with the channel's credentials.
    func media(for content: MessageContent, networkMessageID: String?) -> MediaFetch?
    /// How to fetch a URL a customer or integrator named (an attachment's, a
    /// picture's): public addresses only, and whatever else the channel allows.
    func remoteFetch(url: String) -> MediaFetch
    /// How to find a customer's profile picture; `nil` when the network has no profile API.
    func avatar(externalID: String) -> AvatarLookup?
    /// What the operator should know about this configuration (logged at every start and reload).
    var configurationWarnings: [String] { get }
}

extension ChannelAdapter {
    public func handshake(_ request: WebhookRequest) -> HandshakeResponse? { nil }
    public func render(action: AdapterAction) -> HTTPRequestDescription? { nil }
    public func webhookRegistration(url: String) -> HTTPRequestDescription? { nil }
    public func media(for content: MessageContent, networkMessageID: String?) -> MediaFetch? { nil }
    public func avatar(externalID: String) -> AvatarLookup? { nil }
    public func remoteFetch(url: String) -> MediaFetch { MediaFetch.remote(url) }
    public var configurationWarnings: [String] { [] }
}

/// Turns a configured channel into its adapter. The server holds one factory
/// per kind: adding a network is one registration line.
public struct AdapterFactory: Sendable {
    public let kind: String
    public let make: @Sendable (_ channelID: String, _ settings: ChannelSettings) throws -> any ChannelAdapter

    public init<A: ChannelAdapter>(_ type: A.Type) {
        self.kind = A.kind
        self.make = { try A(channelID: $0, settings: $1) }
    }
}

/// Where the delivery worker and the server find a channel's adapter.
public protocol ChannelDirectory: Sendable {
    func adapter(for channelID: String) -> (any ChannelAdapter)?
    /// The adapter for an outbox target: the network for `.channel`, the
    /// merchant's webhook for the others.
    func adapter(for channelID: String, target: OutboxTarget) -> (any ChannelAdapter)?
}

extension ChannelDirectory {
    public func adapter(for channelID: String, target: OutboxTarget) -> (any ChannelAdapter)? {
        target == .channel ? adapter(for: channelID) : nil
    }
}
