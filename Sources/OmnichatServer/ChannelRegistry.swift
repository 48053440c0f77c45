import Foundation
import OmnichatCore
import TOMLKit
import Synchronization

/// A configured channel: its drop-in and its adapter.
public struct ConfiguredChannel: Sendable {
    public var id: String
    public var kind: String
    public var enabled: Bool
    public var file: String
    public var adapter: any ChannelAdapter
    /// `division` (string, optional): the division (by name) whose queue this channel's rooms wait in.
    public var division: String?
    /// `[bot]` (table, optional): `webhook_url` and `secret` of a bot that takes new sessions first.
    public var bot: (any ChannelAdapter)?
    /// `max_body_bytes` (integer, optional, 1 KiB to 16 MiB): this channel's webhook body limit
    /// (default: the daemon's `[limits] max_body_bytes`; each network's own default otherwise
    /// would be 1 MiB as well, so it is for tightening a channel that only sends small updates).
    public var maxBodyBytes: Int?
    /// `profile_pictures` (boolean, default true): look customers' profile
    /// pictures up through the network's profile API (LINE, Messenger,
    /// Telegram) when they come without one.
    public var profilePictures: Bool = true
}

/// Reads `adapters.d/`: one channel per `*.toml` file (`*.example` files and
/// dotfiles are skipped). Every problem names the file, the key and what is wrong.
public struct ChannelLoader: Sendable {
    public var factories: [AdapterFactory]
    public var environment: [String: String]

    public init(factories: [AdapterFactory], environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.factories = factories
        self.environment = environment
    }

    public func load(directory: String) throws -> [ConfiguredChannel] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ConfigurationError(file: directory, key: nil, problem: "adapters directory does not exist")
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: directory)
            .filter { $0.hasSuffix(".toml") && !$0.hasPrefix(".") }
            .sorted()
        var channels: [ConfiguredChannel] = []
        var seen: [String: String] = [:]
        for name in names {
            let path = (directory as NSString).appendingPathComponent(name)
            let channel = try load(file: path)
            if let other = seen[channel.id] {
                throw ConfigurationError(file: path, key: "id", problem: "channel id '\(channel.id)' is already used by \(other)")
            }
            seen[channel.id] = path
            channels.append(channel)
        }
        return channels
    }

    public func load(file path: String) throws -> ConfiguredChannel {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError(file: path, key: nil, problem: "cannot be read (missing, a folder, or no permission)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationError(file: path, key: nil, problem: "cannot be read as UTF-8 text")
        }
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigurationError(file: path, key: nil, problem: "invalid TOML at line \(error.source.begin.line): \(error.description)")
        }
        let settings = ChannelSettings(file: path, values: try TOMLSettings.values(table, file: path, environment: environment))
        let kind = try settings.string("kind")
        guard let kind else { throw settings.error("kind", "is required (one of: \(factories.map(\.kind).joined(separator: ", ")))") }
        guard let factory = factories.first(where: { $0.kind == kind }) else {
            throw settings.error("kind", "unknown kind '\(kind)' (known: \(factories.map(\.kind).joined(separator: ", ")))")
        }
        var fileID = (path as NSString).lastPathComponent
        for suffix in [".example", ".toml"] where fileID.hasSuffix(suffix) { fileID.removeLast(suffix.count) }
        let id = try settings.string("id") ?? fileID
        guard !id.isEmpty, id.count <= 64, id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
            throw settings.error("id", "must be 1-64 characters of A-Z, a-z, 0-9, - and _ (got '\(id)')")
        }
        let enabled = try settings.bool("enabled") ?? true
        let division = try settings.string("division")
        if let division, division.trimmingCharacters(in: .whitespaces).isEmpty { throw settings.error("division", "must not be empty") }
        let profilePictures = try settings.bool("profile_pictures") ?? true
        let maxBody = try settings.int("max_body_bytes")
        if let maxBody, !(1024...(16 << 20)).contains(maxBody) {
            throw settings.error("max_body_bytes", "must be between 1024 and 16777216, got \(maxBody)")
        }
        var bot: (any ChannelAdapter)?
        if let table = try settings.table("bot") {
            bot = try BotWebhook(channelID: id, settings: table)
            if let unknown = table.unreadKeys.first { throw table.error(unknown, "unknown key in [bot]") }
        }
        let adapter = try factory.make(id, settings)
        if let unknown = settings.unreadKeys.first {
            throw settings.error(unknown, "unknown key for kind '\(kind)'")
        }
        return ConfiguredChannel(
            id: id, kind: kind, enabled: enabled, file: path, adapter: adapter, division: division, bot: bot, maxBodyBytes: maxBody,
            profilePictures: profilePictures)
    }
}

/// The channels in force; replaced whole on reload.
public final class ChannelRegistry: ChannelDirectory, Sendable {
    private let channels = Mutex<[String: ConfiguredChannel]>([:])
    private let reload = Mutex(ReloadStatus(loadedAt: Date(), error: nil))

    /// The last reload of `adapters.d`: when the configuration in force was
    /// loaded, and the error of a later reload that was refused (if any).
    public struct ReloadStatus: Sendable {
        public var loadedAt: Date
        public var error: String?
    }

    public var reloadStatus: ReloadStatus { reload.withLock { $0 } }

    func recordReload(error: String?) {
        reload.withLock { reload in
            if let error { reload.error = error } else { reload = ReloadStatus(loadedAt: Date(), error: nil) }
        }
    }

    public init(_ list: [ConfiguredChannel] = []) {
        replace(with: list)
    }

    public func replace(with list: [ConfiguredChannel]) {
        let map = Dictionary(list.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        channels.withLock { $0 = map }
    }

    public func channel(_ id: String) -> ConfiguredChannel? {
        channels.withLock { $0[id] }
    }

    public var all: [ConfiguredChannel] {
        channels.withLock { $0.values.sorted { $0.id < $1.id } }
    }

    public func adapter(for channelID: String) -> (any ChannelAdapter)? {
        guard let channel = channel(channelID), channel.enabled else { return nil }
        return channel.adapter
    }

    /// The settings' default bot, for a channel whose drop-in names none.
    func defaultBot(for channelID: String) -> (any ChannelAdapter)? {
        let bot = webhooks.current.defaultBot
        guard bot.enabled, let url = bot.webhookURL, let secret = bot.secret else { return nil }
        var webhook = BotWebhook(channelID: channelID, webhookURL: url, secret: secret)
        webhook.publicAddressesOnly = true  // set through the settings API
        return webhook
    }

    /// Whether new sessions of the channel start with a bot.
    public func hasBot(_ channel: ConfiguredChannel) -> Bool {
        channel.bot != nil || defaultBot(for: channel.id) != nil
    }

    /// The merchant's settings webhooks (custom allocation, mark-as-resolved), kept current by the settings API.
    let webhooks = WebhookSettings()

    public func adapter(for channelID: String, target: OutboxTarget) -> (any ChannelAdapter)? {
        switch target {
        case .channel: return adapter(for: channelID)
        case .bot: return channel(channelID)?.bot ?? defaultBot(for: channelID)
        case .allocation: return webhooks.allocation.map { SettingsWebhook(channelID: channelID, url: $0.url, secret: $0.secret) }
        case .resolved: return webhooks.resolved.map { SettingsWebhook(channelID: channelID, url: $0.url, secret: $0.secret) }
        case .newSession: return webhooks.newSession.map { SettingsWebhook(channelID: channelID, url: $0.url, secret: $0.secret) }
        }
    }
}

/// The settings that decide routing, read from the store and cached here.
public final class WebhookSettings: Sendable {
    public struct Hook: Sendable, Equatable {
        public var url: String
        public var secret: String?
    }

    private let state = Mutex(RoutingSettings())

    public var current: RoutingSettings {
        state.withLock { $0 }
    }

    func update(_ settings: RoutingSettings) {
        state.withLock { $0 = settings }
    }

    var allocation: Hook? {
        let s = current
        guard let url = s.customAllocation.webhookURL else { return nil }
        return Hook(url: url, secret: s.customAllocation.secret)
    }

    var resolved: Hook? {
        let s = current
        return s.markAsResolvedWebhookURL.map { Hook(url: $0, secret: s.customAllocation.secret) }
    }

    var newSession: Hook? {
        let s = current
        return s.newSessionWebhookURL.map { Hook(url: $0, secret: s.customAllocation.secret) }
    }
}
