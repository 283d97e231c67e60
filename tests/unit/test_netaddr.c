/* core/netaddr.c: which addresses a user's URL may reach. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "core/netaddr.h"

static const char *const refused[] = {
    "127.0.0.1", "127.9.9.9", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
    "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "240.0.0.1",
    "198.18.0.1", "192.0.2.1", "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1",
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::a9fe:a9fe", "2002:c0a8:0101::1",
    "2001:db8::1", "fec0::1",
};
static const char *const allowed[] = {
    "8.8.8.8", "1.1.1.1", "172.32.0.1", "172.15.255.255", "100.128.0.1", "93.184.216.34",
    "2606:4700:4700::1111", "2a00:1450:4001::200e", "::ffff:8.8.8.8", "2002:0808:0808::1",
};

Test(netaddr, private_loopback_link_local_and_unique_local_are_refused)
{
    char why[128];
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        why[0] = '\0';
        cr_expect_eq(td_netaddr_private_text(refused[i], why, sizeof why), 1, "%s passed", refused[i]);
        cr_expect(strstr(why, "address"), "%s: why is '%s'", refused[i], why);
    }
}

Test(netaddr, public_addresses_pass)
{
    char why[128];
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
        cr_expect_eq(td_netaddr_private_text(allowed[i], why, sizeof why), 0, "%s: %s",
                     allowed[i], why);
}

Test(netaddr, the_reason_names_the_kind_and_the_address)
{
    char why[128];
    td_netaddr_private_text("127.0.0.1", why, sizeof why);
    cr_expect_str_eq(why, "loopback address 127.0.0.1");
    td_netaddr_private_text("fe80::1", why, sizeof why);
    cr_expect_str_eq(why, "link-local address fe80::1");
    td_netaddr_private_text("fd00::5", why, sizeof why);
    cr_expect_str_eq(why, "unique-local address fd00::5");
    td_netaddr_private_text("192.168.0.7", why, sizeof why);
    cr_expect_str_eq(why, "private address 192.168.0.7");
}

Test(netaddr, other_families_and_text_are_not_addresses)
{
    char why[64];
    struct sockaddr sa = {.sa_family = AF_UNIX};
    cr_expect_eq(td_netaddr_private(&sa, sizeof sa, why, sizeof why), -EAFNOSUPPORT);
    cr_expect_eq(td_netaddr_private(NULL, 0, why, sizeof why), -EAFNOSUPPORT);
    cr_expect_eq(td_netaddr_private_text("localhost", why, sizeof why), -EINVAL);
    cr_expect_eq(td_netaddr_private_text("1.2.3", why, sizeof why), -EINVAL);
    cr_expect_eq(td_netaddr_private_text(NULL, why, sizeof why), -EINVAL);
}
