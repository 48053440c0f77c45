import Foundation

/// What a network can render, so that nothing outside an adapter names a network.
public struct ChannelCapabilities: Sendable, Equatable {
    public var textLimit: Int
    public var maxQuickReplies: Int
    public var supportedOutbound: Set<MessageType>

    public init(textLimit: Int, maxQuickReplies: Int, supportedOutbound: Set<MessageType>) {
        self.textLimit = textLimit
        self.maxQuickReplies = maxQuickReplies
        self.supportedOutbound = supportedOutbound
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

    public init(conversationID: String, content: MessageContent) {
        self.conversationID = conversationID
        self.content = content
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
    func render(_ message: OutboundMessage) -> [HTTPRequestDescription]
    /// The call for an adapter's follow-up action; `nil` for an unknown action.
    func render(action: AdapterAction) -> HTTPRequestDescription?
    /// Reads the network's answer to one call.
    func classify(_ response: HTTPResponseDescription) -> DeliveryOutcome
    /// The call that points the network's webhook at `url`, for networks that register by API.
    func webhookRegistration(url: String) -> HTTPRequestDescription?
}

extension ChannelAdapter {
    public func handshake(_ request: WebhookRequest) -> HandshakeResponse? { nil }
    public func render(action: AdapterAction) -> HTTPRequestDescription? { nil }
    public func webhookRegistration(url: String) -> HTTPRequestDescription? { nil }
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
}
