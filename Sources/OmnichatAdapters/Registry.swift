import OmnichatCore

/// Every network the daemon knows. Adding one is one line here plus its folder.
public enum BuiltinAdapters {
    public static let all: [AdapterFactory] = [
        AdapterFactory(TelegramAdapter.self),
        AdapterFactory(MessengerAdapter.self),
        AdapterFactory(WhatsAppAdapter.self),
        AdapterFactory(LINEAdapter.self),
        AdapterFactory(CustomAdapter.self),
    ]
}
