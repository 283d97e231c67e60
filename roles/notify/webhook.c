/* The webhook channel: the reminder event POSTed as JSON to the user's URL, signed with
 * the user's secret the way Stripe signs its webhooks, so a receiver can check that todod
 * sent it and when (README, "Webhook signatures"):
 *   X-Todod-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>
 *   X-Todod-Event-Id: <the event's id, the same on every attempt>
 * Private and loopback addresses are refused by core/curl.c unless
 * --webhook-allow-private. */
#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "roles/notify/deliver.h"
#include "roles/notify/notify.h"

int notify_webhook_signature(const char *secret, long long t, const char *body, size_t len,
                             char *out, size_t outlen)
{
    if (!secret || !*secret || !body || outlen < 80)
        return -EINVAL;
    char ts[24];
    int tn = snprintf(ts, sizeof ts, "%lld.", t);
    unsigned char *signed_text = malloc((size_t)tn + len + 1);
    if (!signed_text)
        return -ENOMEM;
    memcpy(signed_text, ts, (size_t)tn);
    memcpy(signed_text + tn, body, len);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    int ok = HMAC(EVP_sha256(), secret, (int)strlen(secret), signed_text, (size_t)tn + len,
                  mac, &maclen) != NULL;
    free(signed_text);
    if (!ok)
        return -EIO;
    int n = snprintf(out, outlen, "t=%lld,v1=", t);
    for (unsigned int i = 0; i < maclen && (size_t)n + 2 < outlen; i++)
        n += snprintf(out + n, outlen - (size_t)n, "%02x", mac[i]);
    return 0;
}

int notify_webhook_send(struct td_curl *curl, const struct notify_conf *conf, const char *url,
                        const char *secret, const char *event, td_curl_cb cb, void *arg)
{
    size_t len = strlen(event);
    char sig[128], sig_h[160], id_h[120];
    int rc = notify_webhook_signature(secret, notify_now_ms() / 1000, event, len, sig, sizeof sig);
    if (rc)
        return rc;
    json_t *ev = json_loadb(event, len, 0, NULL);
    const char *id = json_string_value(json_object_get(ev, "id"));
    snprintf(sig_h, sizeof sig_h, "X-Todod-Signature: %s", sig);
    snprintf(id_h, sizeof id_h, "X-Todod-Event-Id: %s", id ? id : "");
    json_decref(ev);
    const char *headers[] = {"Content-Type: application/json", sig_h, id_h, "Expect:", NULL};
    struct td_curl_req req = {
        .url = url, .protocols = "http,https", .headers = headers, .post = 1,
        .body = event, .body_len = len, .timeout_ms = conf->delivery_timeout_ms,
        .max_response = NOTIFY_DELIVER_ANSWER_MAX, .allow_private = conf->webhook_allow_private,
    };
    return td_curl_send(curl, &req, cb, arg);
}

enum notify_outcome notify_webhook_outcome(const struct td_curl_result *r, char *err,
                                           size_t errlen)
{
    long c = r->code;
    if (c >= 200 && c < 300 && (r->status == 0 || r->status == -EFBIG)) {
        snprintf(err, errlen, "HTTP %ld", c);
        return NOTIFY_DELIVERED;
    }
    if (r->status == -EACCES) {
        snprintf(err, errlen, "%s (--webhook-allow-private allows it)", r->error);
        return NOTIFY_FAILED;
    }
    if (r->status == -EINVAL) {
        snprintf(err, errlen, "%s", r->error);
        return NOTIFY_FAILED;
    }
    if (r->status && r->status != -EFBIG) {
        snprintf(err, errlen, "%s", r->error);
        return NOTIFY_RETRY;
    }
    if (c >= 300 && c < 400) {
        snprintf(err, errlen, "HTTP %ld: redirects are not followed", c);
        return NOTIFY_FAILED;
    }
    snprintf(err, errlen, "HTTP %ld", c);
    if (c >= 400 && c < 500 && c != 408 && c != 429)
        return NOTIFY_FAILED;
    return NOTIFY_RETRY;
}
