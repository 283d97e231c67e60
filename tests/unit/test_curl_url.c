/* core/curl_url.c: which URLs may be stored. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "core/curl.h"

Test(curl_url, schemes_hosts_and_credentials)
{
    char why[128];
    cr_expect_eq(td_curl_url_check("https://hooks.example.com/x?y=1", NULL, why, sizeof why), 0, "%s", why);
    cr_expect_eq(td_curl_url_check("http://93.184.216.34:8080/", "http,https", why, sizeof why), 0);
    cr_expect_eq(td_curl_url_check("ftp://example.com/", "http,https", why, sizeof why), -EINVAL);
    cr_expect(strstr(why, "http,https"), "%s", why);
    cr_expect_eq(td_curl_url_check("example.com/x", NULL, why, sizeof why), -EINVAL);
    cr_expect_eq(td_curl_url_check("https://", NULL, why, sizeof why), -EINVAL);
    cr_expect_eq(td_curl_url_check("https://u:p@example.com/", NULL, why, sizeof why), -EINVAL);
    cr_expect_eq(td_curl_url_check("https://exa mple.com/", NULL, why, sizeof why), -EINVAL);
    cr_expect_eq(td_curl_url_check("", NULL, why, sizeof why), -EINVAL);
    cr_expect_eq(td_curl_url_check(NULL, NULL, why, sizeof why), -EINVAL);
    cr_expect_eq(td_curl_url_check("httpx://example.com/", NULL, why, sizeof why), -EINVAL);
}
