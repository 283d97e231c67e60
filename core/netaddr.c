/* Address classes from the IANA special-purpose registries (RFC 6890 and updates). */
#include "core/netaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct v4_range {
    uint32_t    net;
    int         bits;
    const char *kind;
};

static const struct v4_range v4_ranges[] = {
    {0x00000000u, 8, "\"this network\" address"},
    {0x0a000000u, 8, "private address"},
    {0x64400000u, 10, "shared (carrier-grade NAT) address"},
    {0x7f000000u, 8, "loopback address"},
    {0xa9fe0000u, 16, "link-local address"},
    {0xac100000u, 12, "private address"},
    {0xc0000000u, 24, "IETF protocol assignment address"},
    {0xc0000200u, 24, "documentation address"},
    {0xc0a80000u, 16, "private address"},
    {0xc6120000u, 15, "benchmarking address"},
    {0xc6336400u, 24, "documentation address"},
    {0xcb007100u, 24, "documentation address"},
    {0xe0000000u, 4, "multicast address"},
    {0xf0000000u, 4, "reserved address"},   /* and 255.255.255.255 */
};

/* v4 in host order. */
static const char *v4_kind(uint32_t v4)
{
    for (size_t i = 0; i < sizeof v4_ranges / sizeof v4_ranges[0]; i++) {
        uint32_t mask = v4_ranges[i].bits ? ~0u << (32 - v4_ranges[i].bits) : 0;
        if ((v4 & mask) == v4_ranges[i].net)
            return v4_ranges[i].kind;
    }
    return NULL;
}

static uint32_t v4_at(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static const char *v6_kind(const unsigned char *a)
{
    static const unsigned char zero[16];
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b};
    if (memcmp(a, zero, 15) == 0)
        return a[15] == 1 ? "loopback address" : a[15] == 0 ? "unspecified address"
                                                             : "IPv4-compatible address";
    if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0)
        return v4_kind(v4_at(a + 12));
    if (a[0] == 0x20 && a[1] == 0x02)   /* 6to4: 2002:V4ADDR::/48 */
        return v4_kind(v4_at(a + 2));
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
        return "link-local address";
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0)
        return "site-local address";
    if ((a[0] & 0xfe) == 0xfc)
        return "unique-local address";
    if (a[0] == 0xff)
        return "multicast address";
    if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8)
        return "documentation address";
    if (a[0] == 0x01 && a[1] == 0 && a[2] == 0 && a[3] == 0 && !memcmp(a + 4, zero, 4))
        return "discard-only address";
    return NULL;
}

int td_netaddr_private(const struct sockaddr *sa, socklen_t len, char *why, size_t whylen)
{
    char text[INET6_ADDRSTRLEN] = "";
    const char *kind;
    if (sa && sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        kind = v4_kind(ntohl(in->sin_addr.s_addr));
        inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    } else if (sa && sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        kind = v6_kind(in6->sin6_addr.s6_addr);
        inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    } else {
        if (why && whylen)
            snprintf(why, whylen, "not an IP address");
        return -EAFNOSUPPORT;
    }
    if (kind && why && whylen)
        snprintf(why, whylen, "%s %s", kind, text);
    return kind != NULL;
}

int td_netaddr_private_text(const char *text, char *why, size_t whylen)
{
    struct sockaddr_in in = {.sin_family = AF_INET};
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
    if (text && inet_pton(AF_INET, text, &in.sin_addr) == 1)
        return td_netaddr_private((struct sockaddr *)&in, sizeof in, why, whylen);
    if (text && inet_pton(AF_INET6, text, &in6.sin6_addr) == 1)
        return td_netaddr_private((struct sockaddr *)&in6, sizeof in6, why, whylen);
    return -EINVAL;
}
