import ArgumentParser
import Foundation
import OmnichatCore
import OmnichatServer

/// `omnichatd migrate [--dry-run]`: brings the database's schema up to this
/// release (the daemon also does it at start), or with `--dry-run` only lists
/// what would change. A database written by a newer release is refused.
struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply the pending schema migrations, or list them with --dry-run; refuses a database newer than this release.")

    @OptionGroup var options: CommonOptions

    @Flag(name: .long, help: "List the pending migrations without applying any.")
    var dryRun = false

    func run() async throws {
        try await withConfigurationErrors {
            let configuration = try options.load()
            bootstrapLogging(configuration)
            let pending = try await Omnichat.pendingMigrations(configuration)
            if pending.isEmpty {
                print("the schema is up to date: nothing to migrate")
                return
            }
            print("\(pending.count) pending migration(s)\(dryRun ? " (dry run: nothing applied)" : ""):")
            for name in pending { print("  \(name)") }
            guard !dryRun else { return }
            let store = try await Omnichat.openStore(configuration)
            await store.close()
            print("applied")
        }
    }
}
