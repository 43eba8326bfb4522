/*
 * Client IP addresses as text: the one canonical form authd counts and
 * bans by, and the one rule for what an address or a network is, for
 * the programs that take them from an admin or a peer (authd, tsambactl).
 */

#ifndef TSAMBA_IPADDR_H
#define TSAMBA_IPADDR_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stddef.h>

/*
 * A numeric IPv4 or IPv6 address into *ss (an IPv4-mapped IPv6 address
 * is the IPv4 one) and, when out is not NULL, its canonical text: 0, or
 * -1 if s is not an address.
 */
int	ip_parse(const char *s, char *out, size_t outsz,
	    struct sockaddr_storage *ss);
/*
 * 1 if s is an address, or with allow_net also "ADDRESS/PREFIX" as
 * tsamba.conf and authd's ban list take it (decimal prefix, at most
 * 32 or 128); else 0.
 */
int	ip_valid(const char *s, int allow_net);

#endif
