import Foundation

// MARK: The fast path (FastJSON): text messages

extension WhatsAppWebhook {
    /// Text messages read without `JSONDecoder`; throws for anything the
    /// lenient `Decodable` initializers might read differently (statuses,
    /// media, a number where a string is expected, an element of another
    /// shape…), and the adapter then decodes the general way.
    init(fast json: FastJSON) throws {
        entry = try json.requiredArray(json.root, "entry").map { try WhatsAppEntry(fast: json, $0) }
    }
}

extension WhatsAppEntry {
    init(fast json: FastJSON, _ node: Int) throws {
        guard json.kind(node) == .object else { throw FastJSON.Unhandled() }
        id = try json.optionalString(node, "id")
        changes = try json.optionalArray(node, "changes")?.map { MetaLenient(value: try WhatsAppChange(fast: json, $0)) }
    }
}

extension WhatsAppChange {
    init(fast json: FastJSON, _ node: Int) throws {
        guard json.kind(node) == .object else { throw FastJSON.Unhandled() }
        field = try json.optionalString(node, "field")
        value = try json.optionalObject(node, "value").map { try WhatsAppValue(fast: json, $0) }
    }
}

extension WhatsAppValue {
    init(fast json: FastJSON, _ node: Int) throws {
        if let statuses = try json.optionalArray(node, "statuses"), !statuses.isEmpty { throw FastJSON.Unhandled() }
        phoneNumberID = try json.optionalObject(node, "metadata").flatMap { try json.optionalString($0, "phone_number_id") }
        contacts = try (json.optionalArray(node, "contacts") ?? []).map { try WhatsAppContact(fast: json, $0) }
        messages = try (json.optionalArray(node, "messages") ?? []).map { MetaLenient(value: try WhatsAppMessage(fast: json, $0)) }
        statuses = []
    }
}

extension WhatsAppContact {
    init(fast json: FastJSON, _ node: Int) throws {
        guard json.kind(node) == .object else { throw FastJSON.Unhandled() }
        waID = try json.optionalString(node, "wa_id")
        userID = try json.optionalString(node, "user_id")
        let profile = try json.optionalObject(node, "profile")
        name = try profile.flatMap { try json.optionalString($0, "name") }
        username = try profile.flatMap { try json.optionalString($0, "username") }
    }
}

extension WhatsAppMessage {
    init(fast json: FastJSON, _ node: Int) throws {
        guard json.kind(node) == .object else { throw FastJSON.Unhandled() }
        try json.requireAbsent(node, ["location", "contacts", "interactive", "button", "reaction", "system"] + ["image", "video", "audio", "document", "sticker"])
        from = try json.optionalString(node, "from")
        id = try json.optionalString(node, "id")
        // Unix seconds, as a string (what WhatsApp sends) or an integer.
        if let i = json.member(node, "timestamp"), !json.isNull(i) {
            if let seconds = json.int64(i) {
                timestamp = seconds
            } else if let text = json.string(i) {
                timestamp = Int64(text)
            } else {
                throw FastJSON.Unhandled()
            }
        } else {
            timestamp = nil
        }
        type = try json.optionalString(node, "type")
        if let type, Self.mediaTypes.contains(type) { throw FastJSON.Unhandled() }
        text = try json.optionalObject(node, "text").flatMap { try json.optionalString($0, "body") }
        media = nil
        location = nil
        contacts = nil
        interactive = nil
        button = nil
        reaction = nil
        system = nil
    }
}
