/* Which addresses an outgoing request from todod may reach. A webhook URL is the user's,
 * so it must not be a door into the operator's network: loopback, private (RFC 1918),
 * shared (RFC 6598), link-local, unique-local, multicast and reserved addresses are
 * refused, also inside IPv4-mapped, NAT64 and 6to4 IPv6 addresses. core/curl.c asks it
 * about the address each socket is about to connect to. */
#ifndef TD_NETADDR_H
#define TD_NETADDR_H
#include <stddef.h>
#include <sys/socket.h>

/* 1 when sa is not a public unicast address, with its kind in why ("loopback address
 * 127.0.0.1"); 0 when it is public; -EAFNOSUPPORT for other families (refuse those too). */
int td_netaddr_private(const struct sockaddr *sa, socklen_t len, char *why, size_t whylen);

/* The same for a literal "127.0.0.1" or "::1": 1, 0, or -EINVAL when text is not one. */
int td_netaddr_private_text(const char *text, char *why, size_t whylen);

#endif
