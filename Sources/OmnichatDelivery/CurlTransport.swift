import CCurl
import Foundation
import OmnichatCore

/// HTTP over libcurl's multi interface: one thread drives every transfer,
/// connections are kept alive and reused across requests, and callers await
/// results from Swift concurrency without blocking its threads.
/// libcurl's process-wide set-up, done once whoever needs libcurl first
/// (the transport or the mailer).
enum CurlGlobal {
    static let initialized: Void = { curl_global_init(Int(CURL_GLOBAL_ALL)) }()
}

public final class CurlTransport: HTTPTransport, @unchecked Sendable {

    private let multi: UnsafeMutableRawPointer
    private let lock = NSLock()
    private var incoming: [Transfer] = []
    private var stopping = false
    /// True while the loop waits in curl_multi_poll: only then does a new
    /// request need a wakeup (a syscall); otherwise the loop will see it.
    private var polling = false
    /// Easy handles kept for reuse (reset between transfers), so a request
    /// does not pay for a fresh handle; the connections live in the multi
    /// handle's pool either way.
    private var idleHandles: [UnsafeMutableRawPointer] = []
    private static let maxIdleHandles = 256
    /// Callers of `shutdown` waiting for the loop to end, and whether it has.
    private var stopWaiters: [CheckedContinuation<Void, Never>] = []
    private var loopEnded = false
    private let userAgent: String
    /// Whether requests marked `publicAddressesOnly` may still reach private
    /// networks (`[outbound] allow_private_networks`).
    public let allowPrivateNetworks: Bool

    /// - Parameters:
    ///   - maxConnectionsPerHost: the most connections open to one host at once (0: no limit).
    ///   - maxTotalConnections: the most connections open at once (0: no limit).
    ///   - allowPrivateNetworks: let requests marked `publicAddressesOnly` reach private addresses too.
    public init(
        maxConnectionsPerHost: Int = 64, maxTotalConnections: Int = 0, userAgent: String = "omnichatd/0.1",
        allowPrivateNetworks: Bool = false
    ) {
        _ = CurlGlobal.initialized
        self.allowPrivateNetworks = allowPrivateNetworks
        self.multi = curl_multi_init()!
        self.userAgent = userAgent
        _ = omc_multi_setopt_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, maxConnectionsPerHost)
        _ = omc_multi_setopt_long(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, maxTotalConnections)
        let thread = Thread { [self] in self.loop() }
        thread.name = "omnichat-curl"
        thread.start()
    }

    deinit {
        curl_multi_cleanup(multi)
    }

    /// Finishes transfers in flight, fails new ones, and stops the thread;
    /// returns once it has stopped (suspending, never blocking a thread).
    public func shutdown() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            lock.lock()
            if loopEnded {
                lock.unlock()
                continuation.resume()
                return
            }
            stopWaiters.append(continuation)
            stopping = true
            lock.unlock()
            curl_multi_wakeup(multi)
        }
    }

    public func send(_ request: HTTPRequestDescription, timeout: Duration) async throws -> HTTPResponseDescription {
        let transfer = Transfer(request: request, timeout: timeout)
        return try await withCheckedThrowingContinuation { continuation in
            transfer.continuation = continuation
            lock.lock()
            if stopping {
                lock.unlock()
                continuation.resume(throwing: TransportError(.shutdown, "transport is shut down"))
                return
            }
            incoming.append(transfer)
            let wake = polling
            polling = false
            lock.unlock()
            if wake { curl_multi_wakeup(multi) }
        }
    }

    // MARK: The multi loop (runs on its own thread only)

    private var active: [UnsafeMutableRawPointer: Transfer] = [:]

    private func loop() {
        while true {
            lock.lock()
            let new = incoming
            incoming.removeAll()
            let isStopping = stopping
            lock.unlock()

            for transfer in new { start(transfer) }
            if isStopping && active.isEmpty { break }

            var running: Int32 = 0
            curl_multi_perform(multi, &running)
            var remaining: Int32 = 0
            while let message = curl_multi_info_read(multi, &remaining) {
                guard omc_msg_is_done(message) != 0, let easy = omc_msg_easy(message) else { continue }
                let code = omc_msg_result(message)
                curl_multi_remove_handle(multi, easy)
                if let transfer = active.removeValue(forKey: easy) {
                    transfer.finish(easy: easy, code: code)
                }
                if idleHandles.count < Self.maxIdleHandles {
                    curl_easy_reset(easy)
                    idleHandles.append(easy)
                } else {
                    curl_easy_cleanup(easy)
                }
            }
            // Sleep only when no request arrived meanwhile; senders wake us while we do.
            lock.lock()
            let idle = incoming.isEmpty && !stopping
            polling = idle
            lock.unlock()
            var fds: Int32 = 0
            curl_multi_poll(multi, nil, 0, idle ? 1000 : 0, &fds)
            lock.lock()
            polling = false
            lock.unlock()
        }
        for easy in idleHandles { curl_easy_cleanup(easy) }
        idleHandles.removeAll()
        lock.lock()
        loopEnded = true
        let waiters = stopWaiters
        stopWaiters.removeAll()
        lock.unlock()
        for waiter in waiters { waiter.resume() }
    }

    private func start(_ transfer: Transfer) {
        guard let easy = idleHandles.popLast() ?? curl_easy_init() else {
            transfer.fail(TransportError(.invalidRequest, "curl_easy_init failed"))
            return
        }
        let request = transfer.request
        _ = omc_easy_setopt_string(easy, CURLOPT_URL, request.url)
        _ = omc_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1)
        _ = omc_easy_setopt_long(easy, CURLOPT_TIMEOUT_MS, transfer.timeoutMilliseconds)
        _ = omc_easy_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, min(transfer.timeoutMilliseconds, 10_000))
        // Only http and https, or nothing: a libcurl that cannot restrict the
        // protocols would follow whatever scheme a URL names.
        guard omc_easy_setopt_string(easy, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK else {
            curl_easy_cleanup(easy)
            transfer.fail(TransportError(.invalidRequest, "libcurl cannot be limited to http and https (CURLOPT_PROTOCOLS_STR needs 7.85 or later)"))
            return
        }
        if request.publicAddressesOnly && !allowPrivateNetworks {
            guard omc_easy_restrict_to_public(easy, transfer.refusedAddress) == CURLE_OK else {
                curl_easy_cleanup(easy)
                transfer.fail(TransportError(.invalidRequest, "libcurl cannot check the address it connects to (CURLOPT_OPENSOCKETFUNCTION)"))
                return
            }
        }
        _ = omc_easy_setopt_string(easy, CURLOPT_USERAGENT, userAgent)
        _ = omc_easy_setopt_string(easy, CURLOPT_ACCEPT_ENCODING, "")
        switch request.method.uppercased() {
        case "GET": _ = omc_easy_setopt_long(easy, CURLOPT_HTTPGET, 1)
        case "POST": _ = omc_easy_setopt_long(easy, CURLOPT_POST, 1)
        default: _ = omc_easy_setopt_string(easy, CURLOPT_CUSTOMREQUEST, request.method.uppercased())
        }
        if request.method.uppercased() != "GET" {
            _ = omc_easy_setopt_off(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(request.body.count))
            request.body.withUnsafeBytes { bytes in
                // COPYPOSTFIELDS copies the bytes, so nothing must outlive this call.
                let pointer = bytes.baseAddress.map { UnsafeMutableRawPointer(mutating: $0) } ?? UnsafeMutableRawPointer(mutating: ("" as StaticString).utf8Start)
                _ = omc_easy_setopt_pointer(easy, CURLOPT_COPYPOSTFIELDS, pointer)
            }
        }
        var headers: UnsafeMutablePointer<curl_slist>?
        for header in request.headers { headers = curl_slist_append(headers, "\(header.name): \(header.value)") }
        headers = curl_slist_append(headers, "Expect:")  // no 100-continue round trip
        transfer.headerList = headers
        _ = omc_easy_setopt_slist(easy, CURLOPT_HTTPHEADER, headers)

        let context = Unmanaged.passUnretained(transfer).toOpaque()
        _ = omc_easy_setopt_data_callback(easy, CURLOPT_WRITEFUNCTION) { data, size, count, context in
            let transfer = Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
            let length = size * count
            if let limit = transfer.request.maxResponseBytes, transfer.responseBody.count + length > limit {
                transfer.exceeded = true
                return 0  // makes libcurl abort the transfer
            }
            if let data { transfer.responseBody.append(UnsafeRawPointer(data).assumingMemoryBound(to: UInt8.self), count: length) }
            return length
        }
        _ = omc_easy_setopt_pointer(easy, CURLOPT_WRITEDATA, context)
        _ = omc_easy_setopt_data_callback(easy, CURLOPT_HEADERFUNCTION) { data, size, count, context in
            let transfer = Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
            let length = size * count
            if let data { transfer.header(bytes: UnsafeRawBufferPointer(start: data, count: length)) }
            return length
        }
        _ = omc_easy_setopt_pointer(easy, CURLOPT_HEADERDATA, context)

        active[easy] = transfer
        curl_multi_add_handle(multi, easy)
    }
}

/// One request in flight. Touched only by the multi thread once started.
final class Transfer: @unchecked Sendable {
    let request: HTTPRequestDescription
    let timeoutMilliseconds: Int
    var continuation: CheckedContinuation<HTTPResponseDescription, any Error>?
    var headerList: UnsafeMutablePointer<curl_slist>?
    var responseBody = Data()
    var exceeded = false
    var responseHeaders: [(name: String, value: String)] = []
    /// Set to 1 by the open-socket hook when it refused an address.
    let refusedAddress = UnsafeMutablePointer<Int32>.allocate(capacity: 1)

    deinit { refusedAddress.deallocate() }

    init(request: HTTPRequestDescription, timeout: Duration) {
        refusedAddress.initialize(to: 0)
        self.request = request
        let (seconds, attoseconds) = timeout.components
        self.timeoutMilliseconds = max(1, Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000))
    }

    /// One header line as libcurl hands it over (CRLF included), parsed as
    /// bytes: no Foundation string trimming on the hot path.
    func header(bytes: UnsafeRawBufferPointer) {
        if bytes.starts(with: "HTTP/".utf8) {
            responseHeaders.removeAll()  // a new response (after 100 Continue or a redirect)
            return
        }
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")) else { return }
        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0D || b == 0x0A }
        var nameEnd = colon
        while nameEnd > 0, isSpace(bytes[nameEnd - 1]) { nameEnd -= 1 }
        var valueStart = colon + 1
        var valueEnd = bytes.count
        while valueStart < valueEnd, isSpace(bytes[valueStart]) { valueStart += 1 }
        while valueEnd > valueStart, isSpace(bytes[valueEnd - 1]) { valueEnd -= 1 }
        let name = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[0..<nameEnd]), as: UTF8.self)
        let value = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[valueStart..<valueEnd]), as: UTF8.self)
        responseHeaders.append((name, value))
    }

    func finish(easy: UnsafeMutableRawPointer, code: CURLcode) {
        defer {
            curl_slist_free_all(headerList)
            headerList = nil
        }
        if exceeded {
            fail(TransportError(.tooLarge, "response is larger than \(request.maxResponseBytes ?? 0) bytes"))
            return
        }
        if refusedAddress.pointee != 0 && code != CURLE_OK {
            fail(TransportError(
                .privateAddress,
                "the address resolves to a private, loopback, link-local or metadata network "
                    + "(allowed only with [outbound] allow_private_networks)"))
            return
        }
        guard code == CURLE_OK else {
            let message = String(cString: curl_easy_strerror(code))
            let kind: TransportError.Kind = code == CURLE_OPERATION_TIMEDOUT ? .timeout : .connection
            fail(TransportError(kind, message))
            return
        }
        var status = 0
        _ = omc_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
        continuation?.resume(returning: HTTPResponseDescription(status: status, headers: responseHeaders, body: responseBody))
        continuation = nil
    }

    func fail(_ error: TransportError) {
        continuation?.resume(throwing: error)
        continuation = nil
    }
}
