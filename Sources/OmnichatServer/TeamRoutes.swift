import Foundation
import Hummingbird
import OmnichatCore

struct TeamRoutes: Sendable {
    let api: APIRoutes

    func register(on router: Router<some RequestContext>) {
    }
}
