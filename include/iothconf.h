/*
 * iothconf.h - the configuration API of iothconf for libioth stacks, served
 * by vdestack++ (link with -liothconf -lioth, or pkg-config iothconf).
 * Source compatible with virtualsquare/iothconf: the same functions and
 * mask bits.
 *
 * ioth_config(stack, config) configures an interface of a stack from a
 * string of items separated by commas (or ';', blanks), each a tag or
 * tag=value ('"' and '\'' quote, '\\' escapes):
 *   iface=NAME          the interface (default vde0); or ifindex=N
 *   fqdn=NAME           the name DHCP sends, and the source of a hash-based
 *                       MAC and SLAAC address
 *   mac=, macaddr=      the MAC address "eth" sets (xx:xx:xx:xx:xx:xx)
 *   eth                 brings the interface up (with mac=, or a MAC hashed
 *                       from fqdn=, when given)
 *   dhcp, dhcp4, dhcpv4 gets an IPv4 lease, renewed for as long as the stack
 *                       lives on our engine's stacks (once elsewhere)
 *   dhcp6, dhcpv6       gets a DHCPv6 address (a /128, as iothconf), DNS
 *                       servers and domains; renewed as DHCPv4's
 *   rd, rd6             IPv6 router discovery: the default route via the
 *                       router, its RDNSS servers and DNSSL domains (one RA,
 *                       waited for at most 3 s)
 *   slaac               with rd: an address in each /64 prefix of the RA
 *                       (the hash of fqdn= when given, else the EUI-64)
 *   auto = eth,dhcp,dhcp6,rd   auto4 (autov4) = eth,dhcp
 *   auto6 (autov6) = eth,dhcp6,rd
 *   ip=ADDR/LEN         a static address (the length is required);
 *   gw=ADDR             a static default route; dns=ADDR a name server;
 *   domain=NAME         a search domain. Static data accumulates over calls.
 *   -ip=, -gw=, -dns=, -domain=  remove one item of static data (-ip=ADDR:
 *                       that address, whatever its length);
 *   -static, -eth, -dhcp, -dhcp6, -rd, -auto (-all), -auto4, -auto6 (and
 *                       the synonyms): undo what that source configured
 *   debug               prints the configuration state on stderr
 *   timeout=SECONDS     (vdestack++) how long DHCP waits, 1..300, default 10
 * Each source replaces only what it set before; the stack gets the merge.
 *
 * Errors: ioth_config returns -1 with errno EINVAL (a malformed string: an
 * unknown option, ip= with a bad address or prefix, ...), ENODEV (no such
 * interface), EINVAL (a NULL stack or string). Otherwise it returns the
 * mask of the sources that succeeded: a source that failed (no DHCP server
 * answered within the timeout: ETIMEDOUT) leaves its bit out and sets
 * errno. ioth_last_error() (ioth.h) gives the message of the last failure
 * of the calling thread. All functions are thread-safe; configuring one
 * stack from two threads at once serializes the calls.
 */
#ifndef IOTHCONF_H
#define IOTHCONF_H

#include <ioth.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The return mask of ioth_config: a bit per source that succeeded. */
#define IOTHCONF_STATIC (1 << 0)
#define IOTHCONF_ETH (1 << 1)
#define IOTHCONF_DHCP (1 << 2)
#define IOTHCONF_DHCPV6 (1 << 3)
#define IOTHCONF_RD (1 << 4)

int ioth_config(struct ioth *stack, const char *config);

/* The resolv.conf(5) text of the configuration of an interface: config is
 * "" (vde0), "iface=NAME" or "ifindex=N". The string is malloc'd (free it).
 * NULL with errno 0: nothing changed since the previous call for that
 * interface; NULL with errno set: an error (EINVAL, ENODEV). */
char *ioth_resolvconf(struct ioth *stack, const char *config);

/* ioth_newstack + ioth_config in one string, which may also hold
 * stack=NAME (default: the kernel's, as iothconf) and vnl=VNL (at most one
 * interface). NULL with errno on failure (the stack is deleted again). */
struct ioth *ioth_newstackc(const char *stack_config);

#ifdef __cplusplus
}
#endif

#endif
