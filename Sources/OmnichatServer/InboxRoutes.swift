import Foundation
import Hummingbird
import OmnichatCore

struct InboxRoutes: Sendable {
    let api: APIRoutes

    func register(on router: Router<some RequestContext>) {
    }
}
