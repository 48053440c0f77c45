import CCurl
import Foundation

/// Whether a URL's host is on the public internet: the check an API caller's
/// webhook URL gets when it is set (the transport checks again at every
/// connection, after its own name resolution, so a name that changes its
/// address later is still refused).
public enum PublicAddress {
    /// The first private, loopback, link-local or metadata address `url`'s
    /// host resolves to, or nil when all of them are public (or the name does
    /// not resolve now: the connection's check decides then).
    public static func privateAddress(in url: String) async -> String? {
        guard let host = URL(string: url)?.host, !host.isEmpty else { return nil }
        let name = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        // getaddrinfo blocks: run it off Swift concurrency's threads.
        return await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: resolvePrivate(name)) }
        }
    }

    /// Whether a textual IP address is public (false for text that is not an address).
    public static func isPublic(ip: String) -> Bool {
        var v4 = in_addr()
        if inet_pton(AF_INET, ip, &v4) == 1 { return omc_ipv4_is_public(UInt32(bigEndian: v4.s_addr)) != 0 }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, ip, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { omc_ipv6_is_public($0.baseAddress!.assumingMemoryBound(to: UInt8.self)) != 0 }
        }
        return false
    }

    private static func resolvePrivate(_ host: String) -> String? {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &list) == 0, let first = list else { return nil }
        defer { freeaddrinfo(first) }
        var node: UnsafeMutablePointer<addrinfo>? = first
        while let entry = node {
            if let address = entry.pointee.ai_addr, omc_sockaddr_is_public(address) == 0 {
                return text(of: address)
            }
            node = entry.pointee.ai_next
        }
        return nil
    }

    private static func text(of address: UnsafeMutablePointer<sockaddr>) -> String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        switch Int32(address.pointee.sa_family) {
        case AF_INET:
            address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { v4 in
                _ = inet_ntop(AF_INET, &v4.pointee.sin_addr, &buffer, socklen_t(buffer.count))
            }
        case AF_INET6:
            address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { v6 in
                _ = inet_ntop(AF_INET6, &v6.pointee.sin6_addr, &buffer, socklen_t(buffer.count))
            }
        default: return "an address of family \(address.pointee.sa_family)"
        }
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }
}
