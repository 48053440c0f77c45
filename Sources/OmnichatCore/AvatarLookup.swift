import Foundation

/// How to find a customer's profile picture with the channel's credentials:
/// one call to the network, and what its answer means. Adapters whose network
/// has a profile API provide it (`ChannelAdapter.avatar(externalID:)`).
public struct AvatarLookup: Sendable {
    public var request: HTTPRequestDescription
    public var read: @Sendable (HTTPResponseDescription) -> AvatarAnswer

    public init(request: HTTPRequestDescription, read: @escaping @Sendable (HTTPResponseDescription) -> AvatarAnswer) {
        self.request = request
        self.read = read
    }
}

/// What one profile call said.
public enum AvatarAnswer: Sendable {
    /// The picture's public address (LINE's and Meta's CDN URLs).
    case url(String)
    /// Another call is needed (Telegram: the photo list, then the file).
    case next(AvatarLookup)
    /// There is a picture, but fetching it takes the channel's credentials
    /// (a Telegram file URL carries the bot token): the daemon serves it itself.
    case privateFile(MediaFetch)
    /// The customer has no picture, or the bot may not see it.
    case none
}
