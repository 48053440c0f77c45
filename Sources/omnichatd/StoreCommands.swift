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

/// `omnichatd backup --to FILE`: a consistent copy of the SQLite database,
/// taken while the daemon runs and webhooks go on.
struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy the SQLite database to a new file while the daemon runs (consistent, checked).")

    @OptionGroup var options: CommonOptions

    @Option(name: .long, help: "The backup file to write (it must not exist).")
    var to: String

    @Option(name: .customLong("max-mb-per-second"), help: "Copy at most this many MiB per second, so the daemon's commits keep the disk (default 64; 0: no limit).")
    var maxMBPerSecond = 64

    func run() async throws {
        try await withConfigurationErrors {
            let configuration = try options.load()
            guard maxMBPerSecond >= 0 else { throw StoreError(.invalid, "--max-mb-per-second must be 0 (no limit) or more") }
            // A background job: the daemon's own work comes first for the CPU.
            _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
            let bytes = try Omnichat.backup(configuration, to: to, bytesPerSecond: maxMBPerSecond << 20)
            print("backup of \(configuration.database) written to \(to) (\(bytes) bytes, integrity ok)")
        }
    }
}

/// `omnichatd restore --from FILE [--replace]`: a backup back in place (daemon stopped).
struct Restore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Put a backup in place of the SQLite database (stop the daemon first); checks it before touching anything.")

    @OptionGroup var options: CommonOptions

    @Option(name: .long, help: "The backup file to restore.")
    var from: String

    @Flag(name: .long, help: "Overwrite an existing database.")
    var replace = false

    func run() async throws {
        try await withConfigurationErrors {
            let configuration = try options.load()
            try Omnichat.restore(configuration, from: from, replace: replace)
            print("restored \(from) to \(configuration.database)")
        }
    }
}
