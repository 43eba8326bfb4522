/*
 * Unit tests for lib/ipaddr.c: the canonical form of a client address
 * (as authd counts and bans it) and the one rule for addresses and
 * networks that tsambactl checks before asking authd.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <string.h>

#include "ipaddr.h"
#include "unit.h"

static void
test_parse(void)
{
	static const struct {
		const char	*in, *canon;
		int		 family;
	} good[] = {
		{ "192.0.2.1", "192.0.2.1", AF_INET },
		{ "::ffff:192.0.2.1", "192.0.2.1", AF_INET },
		{ "::FFFF:c000:0201", "192.0.2.1", AF_INET },
		{ "2001:DB8:0:0::1", "2001:db8::1", AF_INET6 },
		{ "::1", "::1", AF_INET6 },
		{ "0.0.0.0", "0.0.0.0", AF_INET },
	};
	static const char	*bad[] = { "", "192.0.2", "192.0.2.256",
	    "192.0.2.1 ", " 192.0.2.1", "192.0.2.1/32", "2001:db8::1/64",
	    "2001:db8:::1", "host.example", "01.2.3.4", "[::1]",
	    "fe80::1%eth0" };
	struct sockaddr_storage	 ss;
	char			 out[64];
	size_t			 i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		CHECKF(ip_parse(good[i].in, out, sizeof(out), &ss) == 0 &&
		    strcmp(out, good[i].canon) == 0 &&
		    ss.ss_family == good[i].family, "%s -> %s", good[i].in,
		    out);
		CHECKF(ip_valid(good[i].in, 0) && ip_valid(good[i].in, 1),
		    "%s", good[i].in);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECKF(ip_parse(bad[i], NULL, 0, &ss) == -1, "%s", bad[i]);
		CHECKF(!ip_valid(bad[i], 0), "%s", bad[i]);
	}
	/* Too small a buffer for the text is a failure, not a cut. */
	CHECK(ip_parse("2001:db8::1", out, 4, &ss) == -1);
}

static void
test_networks(void)
{
	static const char	*good[] = { "192.0.2.0/24", "192.0.2.1/32",
	    "0.0.0.0/0", "2001:db8::/32", "2001:db8::1/128", "::/0",
	    "10.0.0.0/08" };
	static const char	*bad[] = { "192.0.2.0/33", "2001:db8::/129",
	    "192.0.2.0/", "192.0.2.0/+8", "192.0.2.0/ 8", "192.0.2.0/-1",
	    "192.0.2.0/8x", "/24", "192.0.2.0/24/8", "192.0.2.0/0008",
	    "host/24" };
	size_t			 i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		CHECKF(ip_valid(good[i], 1), "%s", good[i]);
		/* Where only an address will do, a network is refused. */
		CHECKF(!ip_valid(good[i], 0), "%s", good[i]);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECKF(!ip_valid(bad[i], 1), "%s", bad[i]);
}

int
main(void)
{
	test_parse();
	test_networks();
	return unit_done("test_ipaddr");
}
