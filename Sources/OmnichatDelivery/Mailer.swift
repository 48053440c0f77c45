import CCurl
import Foundation

/// Where outgoing mail goes: `omnichat.toml`'s `[smtp]` table.
public struct SMTPSettings: Sendable, Equatable {
    /// `smtp://host[:port]` (STARTTLS, see `starttls`) or `smtps://host[:port]` (TLS from the start).
    public var url: String
    /// The sender: `noreply@example.com` or `Omnichat <noreply@example.com>`.
    public var from: String
    public var username: String?
    public var password: String?
    /// For `smtp://`: require STARTTLS (true, the default) or speak plain SMTP
    /// (false: only for a relay on the same machine or network).
    public var starttls: Bool
    public var timeoutSeconds: Double

    public init(url: String, from: String, username: String? = nil, password: String? = nil, starttls: Bool = true, timeoutSeconds: Double = 30) {
        self.url = url
        self.from = from
        self.username = username
        self.password = password
        self.starttls = starttls
        self.timeoutSeconds = timeoutSeconds
    }
}

/// One plain-text message.
public struct MailMessage: Sendable, Equatable {
    public var to: String
    public var subject: String
    public var body: String

    public init(to: String, subject: String, body: String) {
        self.to = to
        self.subject = subject
        self.body = body
    }
}

public struct MailError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

public protocol MailSending: Sendable {
    func send(_ message: MailMessage) async throws
}

/// Sends mail through libcurl's SMTP. Each message is one blocking easy
/// transfer, run on a dispatch queue of its own so Swift's cooperative pool
/// is never blocked; the caller awaits the result.
public final class Mailer: MailSending, @unchecked Sendable {
    public let settings: SMTPSettings
    private let queue = DispatchQueue(label: "omnichat.mailer", attributes: .concurrent)
    /// At most this many SMTP conversations at once.
    private let slots = DispatchSemaphore(value: 4)

    public init(settings: SMTPSettings) {
        _ = CurlGlobal.initialized
        self.settings = settings
    }

    public func send(_ message: MailMessage) async throws {
        let recipient = try Self.address(message.to)
        let sender = try Self.address(settings.from)
        let data = Data(Self.compose(message, from: settings.from, now: Date()).utf8)
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            queue.async { [settings, slots] in
                slots.wait()
                defer { slots.signal() }
                do {
                    try Self.transfer(settings: settings, from: sender, to: recipient, data: data)
                    continuation.resume()
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    /// The bare address of `Name <a@b>` or `a@b`; refuses anything that could
    /// smuggle SMTP commands or headers.
    public static func address(_ text: String) throws -> String {
        var address = text.trimmingCharacters(in: .whitespaces)
        if let open = address.lastIndex(of: "<"), let close = address.lastIndex(of: ">"), open < close {
            address = String(address[address.index(after: open)..<close])
        }
        let forbidden = CharacterSet(charactersIn: "<>\r\n\t ,;\"")
        guard !address.isEmpty, address.contains("@"), address.rangeOfCharacter(from: forbidden) == nil else {
            throw MailError("'\(text)' is not an email address")
        }
        return address
    }

    /// RFC 5322 message: headers, a blank line, the body with CRLF line ends.
    /// ASCII bodies go as 7bit, others base64 (no server needs 8BITMIME).
    static func compose(_ message: MailMessage, from: String, now: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        func header(_ value: String) -> String {
            let flat = value.replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " ")
            guard flat.unicodeScalars.contains(where: { !$0.isASCII }) else { return flat }
            return "=?UTF-8?B?\(Data(flat.utf8).base64EncodedString())?="
        }
        let domain = (try? address(from)).flatMap { $0.split(separator: "@").last.map(String.init) } ?? "omnichat"
        let lines = message.body.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n", omittingEmptySubsequences: false)
        let ascii = !message.body.unicodeScalars.contains { !$0.isASCII }
        var out = [
            "Date: \(formatter.string(from: now))",
            "From: \(header(from))",
            "To: \(header(message.to))",
            "Subject: \(header(message.subject))",
            "Message-ID: <\(UUID().uuidString.lowercased())@\(domain)>",
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8",
        ]
        if ascii {
            out.append("Content-Transfer-Encoding: 7bit")
            out.append("")
            out.append(contentsOf: lines.map(String.init))
        } else {
            out.append("Content-Transfer-Encoding: base64")
            out.append("")
            let encoded = Data(lines.joined(separator: "\r\n").utf8).base64EncodedString(options: [.lineLength76Characters, .endLineWithCarriageReturn, .endLineWithLineFeed])
            out.append(encoded)
        }
        return out.joined(separator: "\r\n") + "\r\n"
    }

    /// What the read callback hands libcurl, a piece at a time.
    private final class Upload {
        let data: Data
        var offset = 0
        init(_ data: Data) { self.data = data }
    }

    private static func transfer(settings: SMTPSettings, from: String, to: String, data: Data) throws {
        guard let easy = curl_easy_init() else { throw MailError("curl_easy_init failed") }
        defer { curl_easy_cleanup(easy) }
        let upload = Upload(data)
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        let recipients = curl_slist_append(nil, "<\(to)>")
        defer { curl_slist_free_all(recipients) }
        let timeout = max(1, Int(settings.timeoutSeconds * 1000))
        let code: CURLcode = errorBuffer.withUnsafeMutableBufferPointer { buffer in
            _ = omc_easy_setopt_string(easy, CURLOPT_URL, settings.url)
            guard omc_easy_setopt_string(easy, CURLOPT_PROTOCOLS_STR, "smtp,smtps") == CURLE_OK else { return CURLE_UNSUPPORTED_PROTOCOL }
            _ = omc_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1)
            _ = omc_easy_setopt_long(easy, CURLOPT_TIMEOUT_MS, timeout)
            _ = omc_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, min(timeout, 10_000))
            _ = omc_easy_setopt_pointer(easy, CURLOPT_ERRORBUFFER, buffer.baseAddress)
            if settings.url.lowercased().hasPrefix("smtp://") && settings.starttls {
                _ = omc_easy_setopt_long(easy, CURLOPT_USE_SSL, Int(CURLUSESSL_ALL.rawValue))
            }
            if let username = settings.username { _ = omc_easy_setopt_string(easy, CURLOPT_USERNAME, username) }
            if let password = settings.password { _ = omc_easy_setopt_string(easy, CURLOPT_PASSWORD, password) }
            _ = omc_easy_setopt_string(easy, CURLOPT_MAIL_FROM, "<\(from)>")
            _ = omc_easy_setopt_slist(easy, CURLOPT_MAIL_RCPT, recipients)
            _ = omc_easy_setopt_long(easy, CURLOPT_UPLOAD, 1)
            _ = omc_easy_setopt_off(easy, CURLOPT_INFILESIZE_LARGE, curl_off_t(data.count))
            _ = omc_easy_setopt_data_callback(easy, CURLOPT_READFUNCTION) { pointer, size, count, context in
                let upload = Unmanaged<Upload>.fromOpaque(context!).takeUnretainedValue()
                let room = size * count
                let length = min(room, upload.data.count - upload.offset)
                guard length > 0, let pointer else { return 0 }
                upload.data.withUnsafeBytes { bytes in
                    UnsafeMutableRawPointer(pointer).copyMemory(from: bytes.baseAddress! + upload.offset, byteCount: length)
                }
                upload.offset += length
                return length
            }
            return withExtendedLifetime(upload) {
                _ = omc_easy_setopt_pointer(easy, CURLOPT_READDATA, Unmanaged.passUnretained(upload).toOpaque())
                return curl_easy_perform(easy)
            }
        }
        guard code == CURLE_OK else {
            let detail = errorBuffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            throw MailError("SMTP delivery failed: \(detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail)")
        }
    }
}
