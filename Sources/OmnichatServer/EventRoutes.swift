import Foundation
import Hummingbird
import OmnichatCore

struct EventRoutes: Sendable {
    let api: APIRoutes

    func register(on router: Router<some RequestContext>) {
    }
}
