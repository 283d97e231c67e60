/* Shared by core/curl.c and core/curl_url.c only. */
#ifndef TD_CURL_INTERNAL_H
#define TD_CURL_INTERNAL_H

/* curl_global_init, once per process (thread-safe). 0 or -EIO. */
int td_curl_global_init(void);

#endif
