/* td_curl_url_check (core/curl.h): a URL's syntax, with libcurl's own URL parser (the
 * one that will read it when it is used), before it is stored. */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/curl.h"
#include "core/curl_internal.h"

int td_curl_url_check(const char *url, const char *protocols, char *why, size_t whylen)
{
    if (td_curl_global_init())
        return -EIO;
    if (!url || !*url || strlen(url) > 2048) {
        snprintf(why, whylen, "must be a URL of 1 to 2048 bytes");
        return -EINVAL;
    }
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f) {
            snprintf(why, whylen, "must not contain spaces or control characters");
            return -EINVAL;
        }
    CURLU *u = curl_url();
    if (!u)
        return -ENOMEM;
    char *scheme = NULL, *host = NULL, *user = NULL;
    int rc = 0;
    if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host) {
        snprintf(why, whylen, "must be an absolute URL with a host");
        rc = -EINVAL;
    } else if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
        snprintf(why, whylen, "must not carry a user name or password");
        rc = -EINVAL;
    } else {
        const char *allowed = protocols ? protocols : "http,https";
        size_t n = strlen(scheme);
        const char *p = allowed;
        int found = 0;
        while (*p) {
            const char *end = strchr(p, ',');
            size_t len = end ? (size_t)(end - p) : strlen(p);
            if (len == n && strncmp(p, scheme, n) == 0)
                found = 1;
            p += len + (end ? 1 : 0);
        }
        if (!found) {
            snprintf(why, whylen, "must use one of the schemes %s", allowed);
            rc = -EINVAL;
        }
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(user);
    curl_url_cleanup(u);
    return rc;
}
