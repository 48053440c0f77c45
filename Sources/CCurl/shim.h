#ifndef OMNICHAT_CCURL_SHIM_H
#define OMNICHAT_CCURL_SHIM_H

#include <curl/curl.h>

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

#endif
