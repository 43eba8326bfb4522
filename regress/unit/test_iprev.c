/*
 * test_iprev: FCrDNS (lib/iprev.c) against canned zones: a pass, a PTR
 * name that does not map back, a missing PTR, the second name of
 * several passing, lookups that fail (temperror, unless another name
 * passes), IPv6 and v4-mapped addresses, the name limit.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>

#include "iprev.h"
#include "unit.h"
#include "zone.h"

static const char zone_text[] =
    "1.2.0.192.in-addr.arpa PTR mail.good.test\n"
    "mail.good.test A 192.0.2.1\n"
    "2.2.0.192.in-addr.arpa PTR liar.test\n"
    "liar.test A 192.0.2.99\n"
    "3.2.0.192.in-addr.arpa PTR broken.test\n"
    "3.2.0.192.in-addr.arpa PTR second.test.\n"
    "broken.test SERVFAIL\n"
    "second.test A 192.0.2.3\n"
    "4.2.0.192.in-addr.arpa PTR broken.test\n"
    "4.2.0.192.in-addr.arpa PTR liar.test\n"
    "5.2.0.192.in-addr.arpa SERVFAIL\n"
    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2"
    ".ip6.arpa PTR six.test\n"
    "six.test AAAA 2001:db8::1\n"
    "six.test A 192.0.2.1\n";

static int
run(struct zone *z, const char *addr, char *name, size_t namesz)
{
	struct sockaddr_storage	 ss;
	struct iprev		 ip;
	struct dnsq_query	 q;
	struct dnsq_answer	 a;
	const struct dnsq_answer *ap = NULL;
	int			 steps = 0;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, addr, &((struct sockaddr_in *)&ss)->sin_addr)
	    == 1)
		ss.ss_family = AF_INET;
	else if (inet_pton(AF_INET6, addr,
	    &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1)
		ss.ss_family = AF_INET6;
	if (iprev_start(&ip, &ss) == -1)
		return iprev_result(&ip);
	while (iprev_step(&ip, ap, &q) == IPREV_STEP_DNS && steps++ < 50) {
		zone_answer(z, &q, &a);
		ap = &a;
	}
	snprintf(name, namesz, "%s", iprev_name(&ip));
	return iprev_result(&ip);
}

static void
test_cases(struct zone *z)
{
	char	 name[DNSQ_NAME_MAX];

	CHECK(run(z, "192.0.2.1", name, sizeof(name)) == IPREV_PASS);
	CHECK(strcmp(name, "mail.good.test") == 0);
	CHECK(run(z, "192.0.2.2", name, sizeof(name)) == IPREV_FAIL);
	CHECK(strcmp(name, "liar.test") == 0);
	/* the first name fails to resolve, the second passes: pass */
	CHECK(run(z, "192.0.2.3", name, sizeof(name)) == IPREV_PASS);
	CHECK(strcmp(name, "second.test") == 0);
	/* one name fails to resolve, the other does not match */
	CHECK(run(z, "192.0.2.4", name, sizeof(name)) == IPREV_TEMPERROR);
	CHECK(run(z, "192.0.2.5", name, sizeof(name)) == IPREV_TEMPERROR);
	/* no PTR at all */
	CHECK(run(z, "192.0.2.6", name, sizeof(name)) == IPREV_FAIL);
	CHECK(name[0] == '\0');
	CHECK(run(z, "2001:db8::1", name, sizeof(name)) == IPREV_PASS);
	CHECK(strcmp(name, "six.test") == 0);
	CHECK(run(z, "::ffff:192.0.2.1", name, sizeof(name)) == IPREV_PASS);
	CHECK(strcmp(iprev_result_name(IPREV_TEMPERROR), "temperror") == 0);
}

/* Eleven PTR names, none mapping back: only ten are asked about. */
static void
test_name_limit(void)
{
	struct zone	 z;
	char		 text[4096], name[DNSQ_NAME_MAX];
	size_t		 o = 0;
	int		 i;

	for (i = 0; i < 11; i++)
		o += snprintf(text + o, sizeof(text) - o,
		    "7.2.0.192.in-addr.arpa PTR n%d.test\n"
		    "n%d.test A 192.0.2.%d\n", i, i, 100 + i);
	zone_load(&z, text);
	CHECK(run(&z, "192.0.2.7", name, sizeof(name)) == IPREV_FAIL);
	CHECK(z.queries == 1 + IPREV_NAMES_MAX);
	zone_free(&z);
}

static void
test_reverse(void)
{
	struct sockaddr_storage	 ss;
	char			 out[IPREV_REVERSE_MAX];

	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::1",
	    &((struct sockaddr_in6 *)&ss)->sin6_addr);
	CHECK(iprev_reverse(&ss, out, sizeof(out)) == 0);
	CHECK(strcmp(out, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
	    "8.b.d.0.1.0.0.2") == 0);
	ss.ss_family = AF_UNIX;
	CHECK(iprev_reverse(&ss, out, sizeof(out)) == -1);
}

int
main(void)
{
	struct zone	 z;

	zone_load(&z, zone_text);
	test_cases(&z);
	zone_free(&z);
	test_name_limit();
	test_reverse();
	return unit_done("test_iprev");
}
