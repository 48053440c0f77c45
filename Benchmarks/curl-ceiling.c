/* libcurl's own ceiling, the second baseline of the outbound benchmark: N
 * easy handles POSTing the same body to the fake network, each re-added to the
 * multi handle as soon as it completes. No Swift, no per-request setup, no
 * thread hand-off: what libcurl alone does on this machine, driven the way
 * CurlTransport drives it (perform + poll) or through its socket interface
 * (epoll + curl_multi_socket_action).
 *
 *   cc -O2 -o curl-ceiling Benchmarks/curl-ceiling.c -lcurl
 *   curl-ceiling URL CONNECTIONS SECONDS [perform|socket]
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

static int epfd = -1;
static long long deadline_ns = -1;

static long long monotonic_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static size_t discard(char *p, size_t size, size_t count, void *user) {
    (void)p; (void)user;
    return size * count;
}

static int on_socket(CURL *easy, curl_socket_t s, int what, void *user, void *socketp) {
    (void)easy; (void)user; (void)socketp;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(epfd, EPOLL_CTL_DEL, s, NULL);
        return 0;
    }
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0);
    ev.data.fd = s;
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, s, &ev) != 0 && errno == ENOENT) epoll_ctl(epfd, EPOLL_CTL_ADD, s, &ev);
    return 0;
}

static int on_timer(CURLM *multi, long ms, void *user) {
    (void)multi; (void)user;
    deadline_ns = ms < 0 ? -1 : monotonic_ns() + ms * 1000000LL;
    return 0;
}

/* Re-adds every finished handle; returns how many finished without error. */
static long recycle(CURLM *multi) {
    long ok = 0;
    CURLMsg *message;
    int left;
    while ((message = curl_multi_info_read(multi, &left))) {
        if (message->msg != CURLMSG_DONE) continue;
        CURL *easy = message->easy_handle;
        long status = 0;
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
        if (message->data.result == CURLE_OK && status == 200) ok++;
        curl_multi_remove_handle(multi, easy);
        curl_multi_add_handle(multi, easy);
    }
    return ok;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: curl-ceiling URL CONNECTIONS SECONDS [perform|socket]\n");
        return 2;
    }
    const char *url = argv[1];
    int connections = atoi(argv[2]);
    double seconds = atof(argv[3]);
    int socket_mode = argc > 4 && strcmp(argv[4], "socket") == 0;
    const char *body = "{\"chat_id\":1,\"text\":\"hello from the bench\"}";

    curl_global_init(CURL_GLOBAL_ALL);
    CURLM *multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)connections);
    if (socket_mode) {
        epfd = epoll_create1(EPOLL_CLOEXEC);
        curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, on_socket);
        curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, on_timer);
    }
    struct curl_slist *headers = NULL;
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Expect:");
    for (int i = 0; i < connections; i++) {
        CURL *easy = curl_easy_init();
        curl_easy_setopt(easy, CURLOPT_URL, url);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
        curl_multi_add_handle(multi, easy);
    }

    long ok = 0;
    int running = 0;
    long long start = monotonic_ns(), end = start + (long long)(seconds * 1e9);
    struct epoll_event events[256];
    while (monotonic_ns() < end) {
        if (socket_mode) {
            int timeout = 100;
            if (deadline_ns >= 0) {
                long long left = (deadline_ns - monotonic_ns() + 999999) / 1000000;
                timeout = left < 0 ? 0 : (left < 100 ? (int)left : 100);
            }
            int ready = epoll_wait(epfd, events, 256, timeout);
            for (int i = 0; i < ready; i++) {
                int flags = 0;
                if (events[i].events & EPOLLIN) flags |= CURL_CSELECT_IN;
                if (events[i].events & EPOLLOUT) flags |= CURL_CSELECT_OUT;
                if (events[i].events & (EPOLLERR | EPOLLHUP)) flags |= CURL_CSELECT_ERR;
                curl_multi_socket_action(multi, events[i].data.fd, flags, &running);
            }
            if (ready == 0 || (deadline_ns >= 0 && deadline_ns <= monotonic_ns()))
                curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
        } else {
            curl_multi_perform(multi, &running);
        }
        ok += recycle(multi);
        if (!socket_mode) {
            int fds;
            curl_multi_poll(multi, NULL, 0, 100, &fds);
        }
    }
    double elapsed = (monotonic_ns() - start) / 1e9;
    printf("libcurl alone (%s) c=%d: ok=%ld rate=%.2f/s\n", socket_mode ? "socket" : "perform", connections, ok, ok / elapsed);
    return 0;
}
