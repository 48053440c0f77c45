#ifndef OMNICHAT_CCURL_SHIM_H
#define OMNICHAT_CCURL_SHIM_H

#include <curl/curl.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

/* Swift cannot call the variadic curl_easy_setopt / curl_easy_getinfo /
   curl_multi_setopt, so these typed wrappers give it fixed signatures. */

static inline CURLcode omc_easy_setopt_string(CURL *h, CURLoption o, const char *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode omc_easy_setopt_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode omc_easy_setopt_pointer(CURL *h, CURLoption o, void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode omc_easy_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode omc_easy_setopt_off(CURL *h, CURLoption o, curl_off_t v) { return curl_easy_setopt(h, o, v); }

typedef size_t (*omc_data_callback)(char *ptr, size_t size, size_t nmemb, void *userdata);
static inline CURLcode omc_easy_setopt_data_callback(CURL *h, CURLoption o, omc_data_callback cb) { return curl_easy_setopt(h, o, cb); }

static inline CURLcode omc_easy_getinfo_long(CURL *h, CURLINFO i, long *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode omc_easy_getinfo_double(CURL *h, CURLINFO i, double *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode omc_easy_getinfo_pointer(CURL *h, CURLINFO i, void **v) { return curl_easy_getinfo(h, i, v); }

static inline CURLMcode omc_multi_setopt_long(CURLM *m, CURLMoption o, long v) { return curl_multi_setopt(m, o, v); }

/* CURLMsg holds a union; expose what Swift needs. */
static inline CURL *omc_msg_easy(CURLMsg *m) { return m->easy_handle; }
static inline CURLcode omc_msg_result(CURLMsg *m) { return m->data.result; }
static inline int omc_msg_is_done(CURLMsg *m) { return m->msg == CURLMSG_DONE; }

/* Destinations named by API callers or customers (attachment URLs, webhook
   URLs set through the API) must not reach this host's private networks.
   The check runs on the address libcurl is about to connect to, after name
   resolution, so a name that resolves to a public address once and to a
   private one later (DNS rebinding) is caught at the connection itself. */

/* 1 when an IPv4 address (host byte order) is public. */
static inline int omc_ipv4_is_public(uint32_t a) {
    uint32_t b1 = a >> 24, b2 = (a >> 16) & 0xff, b3 = (a >> 8) & 0xff;
    if (b1 == 0 || b1 == 10 || b1 == 127) return 0;              /* this network, private, loopback */
    if (b1 == 100 && (b2 & 0xc0) == 64) return 0;                /* 100.64.0.0/10 carrier-grade NAT */
    if (b1 == 169 && b2 == 254) return 0;                        /* link-local, cloud metadata */
    if (b1 == 172 && (b2 & 0xf0) == 16) return 0;                /* 172.16.0.0/12 */
    if (b1 == 192 && b2 == 168) return 0;                        /* 192.168.0.0/16 */
    if (b1 == 192 && b2 == 0 && b3 == 0) return 0;               /* 192.0.0.0/24 protocol assignments */
    if (b1 == 198 && (b2 & 0xfe) == 18) return 0;                /* 198.18.0.0/15 benchmarking */
    if (b1 >= 224) return 0;                                     /* multicast, reserved, broadcast */
    return 1;
}

/* 1 when an IPv6 address (16 bytes, network order) is public. */
static inline int omc_ipv6_is_public(const unsigned char *b) {
    static const unsigned char zero[10] = {0};
    if (memcmp(b, zero, 10) == 0) {
        if (b[10] == 0xff && b[11] == 0xff)                      /* ::ffff:a.b.c.d, IPv4-mapped */
            return omc_ipv4_is_public(((uint32_t)b[12] << 24) | ((uint32_t)b[13] << 16) | ((uint32_t)b[14] << 8) | b[15]);
        return 0;                                                /* ::, ::1, IPv4-compatible */
    }
    if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b)   /* 64:ff9b::/96 NAT64 */
        return omc_ipv4_is_public(((uint32_t)b[12] << 24) | ((uint32_t)b[13] << 16) | ((uint32_t)b[14] << 8) | b[15]);
    if ((b[0] & 0xfe) == 0xfc) return 0;                         /* fc00::/7 unique local (AWS fd00:ec2::254) */
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return 0;         /* fe80::/10 link-local */
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return 0;         /* fec0::/10 site-local (deprecated) */
    if (b[0] == 0xff) return 0;                                  /* multicast */
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) return 0; /* 2001:db8::/32 documentation */
    return 1;
}

/* 1 when a socket address is public; 0 for private, loopback, link-local,
   metadata, unknown families. */
static inline int omc_sockaddr_is_public(const struct sockaddr *address) {
    if (address->sa_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)address;
        return omc_ipv4_is_public(ntohl(v4->sin_addr.s_addr));
    }
    if (address->sa_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)address;
        return omc_ipv6_is_public(v6->sin6_addr.s6_addr);
    }
    return 0;
}

/* libcurl's open-socket hook: refuses a non-public address (and notes it in
   *clientp, so the caller can say why), opens the socket otherwise. */
static curl_socket_t omc_open_public_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *address) {
    (void)purpose;
    if (!omc_sockaddr_is_public(&address->addr)) {
        if (clientp) *(int *)clientp = 1;
        return CURL_SOCKET_BAD;
    }
    return socket(address->family, address->socktype, address->protocol);
}

/* Restricts a transfer to public addresses; `refused` is set to 1 when a
   connection was refused for its address. A fresh connection, so one opened
   earlier to a private address for a trusted call is never reused. */
static inline CURLcode omc_easy_restrict_to_public(CURL *h, int *refused) {
    CURLcode code = curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, omc_open_public_socket);
    if (code != CURLE_OK) return code;
    code = curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, (void *)refused);
    if (code != CURLE_OK) return code;
    return curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
}

#endif
