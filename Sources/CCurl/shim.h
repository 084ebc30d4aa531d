#ifndef DLG_CCURL_SHIM_H
#define DLG_CCURL_SHIM_H
#include <curl/curl.h>

/* curl_easy_setopt and friends are variadic and do not import into Swift: one typed wrapper each. */
static inline CURLcode dlg_curl_setopt_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode dlg_curl_setopt_ptr(CURL *h, CURLoption o, const void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode dlg_curl_setopt_str(CURL *h, CURLoption o, const char *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode dlg_curl_setopt_off(CURL *h, CURLoption o, curl_off_t v) { return curl_easy_setopt(h, o, v); }
typedef size_t (*dlg_curl_write_cb)(char *ptr, size_t size, size_t nmemb, void *userdata);
static inline CURLcode dlg_curl_setopt_write(CURL *h, CURLoption o, dlg_curl_write_cb cb) { return curl_easy_setopt(h, o, cb); }
static inline CURLcode dlg_curl_getinfo_long(CURL *h, CURLINFO i, long *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode dlg_curl_getinfo_ptr(CURL *h, CURLINFO i, char **v) { return curl_easy_getinfo(h, i, v); }
static inline CURLMcode dlg_curl_multi_setopt_long(CURLM *m, CURLMoption o, long v) { return curl_multi_setopt(m, o, v); }
/* Only http and https, for the request and for any redirect (none is followed): a URL a server names
   (`file://`, `gopher://`, ...) is refused by libcurl itself (CURLE_UNSUPPORTED_PROTOCOL). */
static inline CURLcode dlg_curl_web_only(CURL *h) {
#if LIBCURL_VERSION_NUM >= 0x075500
    CURLcode c = curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (c != CURLE_OK) return c;
    return curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    CURLcode c = curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    if (c != CURLE_OK) return c;
    return curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
}
/* CURLMsg's data is a union; read it here. */
static inline CURLcode dlg_curl_msg_result(CURLMsg *m) { return m->data.result; }

/* The multi_socket API over epoll: libcurl tells us which sockets to watch and when its next timeout
   is due, so each event costs O(1) instead of a pass over every transfer (curl_multi_perform and
   curl_multi_poll walk all of them on every wake-up). Kept in C: epoll_event is a packed struct on
   x86-64, and the callbacks need no Swift context. */
#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

typedef struct {
    int epoll_fd;
    /* Set by the timer callback: the delay libcurl asked for (-1: none) and whether it changed. */
    long timer_ms;
    int timer_changed;
} dlg_curl_events;

static inline int dlg_epoll_watch(int ep, int fd, unsigned events) {
    struct epoll_event ev;
    ev.events = events;
    ev.data.u64 = 0;
    ev.data.fd = fd;
    if (epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) == 0) return 0;
    if (errno == ENOENT) return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    return -1;
}

static int dlg_curl_socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp) {
    (void)easy; (void)socketp;
    dlg_curl_events *state = (dlg_curl_events *)userp;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(state->epoll_fd, EPOLL_CTL_DEL, s, NULL);
        return 0;
    }
    unsigned events = 0;
    if (what & CURL_POLL_IN) events |= EPOLLIN;
    if (what & CURL_POLL_OUT) events |= EPOLLOUT;
    dlg_epoll_watch(state->epoll_fd, s, events);
    return 0;
}

static int dlg_curl_timer_cb(CURLM *multi, long timeout_ms, void *userp) {
    (void)multi;
    dlg_curl_events *state = (dlg_curl_events *)userp;
    state->timer_ms = timeout_ms;
    state->timer_changed = 1;
    return 0;
}

static inline CURLMcode dlg_curl_multi_use_epoll(CURLM *m, dlg_curl_events *state) {
    curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, dlg_curl_socket_cb);
    curl_multi_setopt(m, CURLMOPT_SOCKETDATA, state);
    curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, dlg_curl_timer_cb);
    return curl_multi_setopt(m, CURLMOPT_TIMERDATA, state);
}

/* Waits for events; returns how many (or -1) and fills fds/events. */
static inline int dlg_epoll_wait(int ep, int *fds, unsigned *events, int max, int timeout_ms) {
    struct epoll_event ev[128];
    if (max > 128) max = 128;
    int n = epoll_wait(ep, ev, max, timeout_ms);
    for (int i = 0; i < n; i++) { fds[i] = ev[i].data.fd; events[i] = ev[i].events; }
    return n;
}

/* Hands one socket's epoll events to libcurl. */
static inline CURLMcode dlg_curl_socket_event(CURLM *m, int fd, unsigned events, int *running) {
    int mask = 0;
    if (events & (EPOLLIN | EPOLLHUP)) mask |= CURL_CSELECT_IN;
    if (events & EPOLLOUT) mask |= CURL_CSELECT_OUT;
    if (events & EPOLLERR) mask |= CURL_CSELECT_ERR;
    return curl_multi_socket_action(m, fd, mask, running);
}

/* libcurl's timeout fired: let it run whatever is due (new transfers, timeouts). */
static inline CURLMcode dlg_curl_timeout_event(CURLM *m, int *running) {
    return curl_multi_socket_action(m, CURL_SOCKET_TIMEOUT, 0, running);
}
#endif
