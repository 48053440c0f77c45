import Foundation
import Hummingbird
import Logging
import OmnichatCore
import OmnichatDelivery

extension APIRoutes {
    /// Records an administrative action. The action has happened by then, so a
    /// failure to record it is logged, not returned. `details` must hold no secrets.
    func audit(_ actor: User, _ action: String, _ targetType: String, _ targetID: (any CustomStringConvertible)?, _ details: [String: Any] = [:]) async {
        await audit(actor: String(actor.id), role: actor.role.rawValue, action, targetType, targetID, details)
    }

    func audit(_ principal: Authenticator.Principal, _ action: String, _ targetType: String, _ targetID: String?, _ details: [String: Any] = [:]) async {
        switch principal {
        case .user(let user): await audit(user, action, targetType, targetID, details)
        case .key(let key): await audit(actor: "key:\(key.id)", role: "key:\(key.scope.rawValue)", action, targetType, targetID, details)
        }
    }

    func audit(actor: String, role: String, _ action: String, _ targetType: String, _ targetID: (any CustomStringConvertible)?, _ details: [String: Any]) async {
        let json = (try? JSONSerialization.data(withJSONObject: details, options: [.sortedKeys, .withoutEscapingSlashes]))
            .map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        do {
            try await store.recordAudit(
                NewAuditEntry(actor: actor, actorRole: role, action: action, targetType: targetType, targetID: targetID.map { "\($0)" }, details: json))
        } catch {
            TeamRoutes.logger.error(
                "audit entry not recorded", metadata: ["omnichat.action": .string(action), "omnichat.error": "\(error)"])
        }
    }
}
