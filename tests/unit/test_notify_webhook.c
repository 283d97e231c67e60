/* roles/notify/webhook.c: the signature (checked against Python's hmac module) and what
 * an answer means; the requests themselves are in test_notify_deliver.c. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "roles/notify/deliver.h"
#include "roles/notify/notify.h"

Test(notify_webhook, the_signature_is_hmac_sha256_of_t_dot_body)
{
    char sig[128];
    /* python3: hmac.new(b'whsec_test', b'1700000000.{"a":1}', hashlib.sha256).hexdigest() */
    cr_assert_eq(notify_webhook_signature("whsec_test", 1700000000, "{\"a\":1}", 7, sig, sizeof sig), 0);
    cr_expect_str_eq(sig, "t=1700000000,v1="
                          "38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789");
    char other[128];
    notify_webhook_signature("whsec_test", 1700000001, "{\"a\":1}", 7, other, sizeof other);
    cr_expect_str_neq(strchr(sig, 'v'), strchr(other, 'v'), "the time is not signed");
    notify_webhook_signature("whsec_tesT", 1700000000, "{\"a\":1}", 7, other, sizeof other);
    cr_expect_str_neq(sig, other, "the secret is not used");
}

Test(notify_webhook, no_secret_no_signature)
{
    char sig[128];
    cr_expect_eq(notify_webhook_signature(NULL, 1, "x", 1, sig, sizeof sig), -EINVAL);
    cr_expect_eq(notify_webhook_signature("", 1, "x", 1, sig, sizeof sig), -EINVAL);
    cr_expect_eq(notify_webhook_signature("s", 1, "x", 1, sig, 10), -EINVAL);
}

static enum notify_outcome outcome(int status, long code, char *err)
{
    struct td_curl_result r = {.status = status, .code = code, .body = "", .error = "boom"};
    return notify_webhook_outcome(&r, err, 200);
}

Test(notify_webhook, answers_decide_delivered_retry_or_failed)
{
    char err[200];
    cr_expect_eq(outcome(0, 200, err), NOTIFY_DELIVERED);
    cr_expect_eq(outcome(0, 204, err), NOTIFY_DELIVERED);
    cr_expect_eq(outcome(-EFBIG, 200, err), NOTIFY_DELIVERED, "a long 2xx answer is still a 2xx");
    cr_expect_eq(outcome(0, 500, err), NOTIFY_RETRY);
    cr_expect_str_eq(err, "HTTP 500");
    cr_expect_eq(outcome(0, 503, err), NOTIFY_RETRY);
    cr_expect_eq(outcome(0, 408, err), NOTIFY_RETRY);
    cr_expect_eq(outcome(0, 429, err), NOTIFY_RETRY);
    cr_expect_eq(outcome(0, 400, err), NOTIFY_FAILED);
    cr_expect_eq(outcome(0, 404, err), NOTIFY_FAILED);
    cr_expect_eq(outcome(0, 410, err), NOTIFY_FAILED);
    cr_expect_eq(outcome(0, 301, err), NOTIFY_FAILED);
    cr_expect(strstr(err, "redirects are not followed"), "%s", err);
    cr_expect_eq(outcome(-ETIMEDOUT, 0, err), NOTIFY_RETRY);
    cr_expect_eq(outcome(-ECONNREFUSED, 0, err), NOTIFY_RETRY);
    cr_expect_eq(outcome(-EHOSTUNREACH, 0, err), NOTIFY_RETRY);
    cr_expect_eq(outcome(-EFBIG, 500, err), NOTIFY_RETRY);
    cr_expect_eq(outcome(-EACCES, 0, err), NOTIFY_FAILED);
    cr_expect(strstr(err, "--webhook-allow-private"), "%s", err);
    cr_expect_eq(outcome(-EINVAL, 0, err), NOTIFY_FAILED);
}

Test(notify_webhook, backoff_doubles_up_to_the_cap)
{
    struct notify_conf c = {.retry_initial_ms = 1000, .retry_max_ms = 5000, .max_attempts = 8};
    cr_expect_eq(notify_deliver_backoff_ms(&c, 1), 1000);
    cr_expect_eq(notify_deliver_backoff_ms(&c, 2), 2000);
    cr_expect_eq(notify_deliver_backoff_ms(&c, 3), 4000);
    cr_expect_eq(notify_deliver_backoff_ms(&c, 4), 5000);
    cr_expect_eq(notify_deliver_backoff_ms(&c, 60), 5000);
    cr_expect_str_eq(notify_deliver_channels(&c), "{in_app,webhook}");
    c.smtp_url = "smtp://x";
    cr_expect_str_eq(notify_deliver_channels(&c), "{in_app,webhook,email}");
}
