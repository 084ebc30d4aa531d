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
/* CURLMsg's data is a union; read it here. */
static inline CURLcode dlg_curl_msg_result(CURLMsg *m) { return m->data.result; }
#endif
