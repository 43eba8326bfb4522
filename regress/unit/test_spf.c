/*
 * test_spf: lib/spf.c against RFC 7208's cases on canned DNS: each
 * mechanism and qualifier, include and redirect, the macros of the RFC's
 * section 7.4, the lookup limits, syntax errors (permerror) and DNS
 * failures (temperror).
 */

#include <stdlib.h>
#include <string.h>

#include "spf.h"
#include "unit.h"
#include "zone.h"

static const char zone_text[] =
	"all.test TXT v=spf1 -all\n"
	"pass.test TXT v=spf1 +all\n"
	"ip4.test TXT v=spf1 ip4:192.0.2.0/24 -all\n"
	"ip4host.test TXT v=spf1 ip4:192.0.2.5 -all\n"
	"ip6.test TXT v=spf1 ip6:2001:db8::/32 -all\n"
	"a.test TXT v=spf1 a -all\n"
	"a.test A 192.0.2.10\n"
	"a.test AAAA 2001:db8::10\n"
	"acidr.test TXT v=spf1 a:host.acidr.test/24//64 -all\n"
	"host.acidr.test A 198.51.100.1\n"
	"host.acidr.test AAAA 2001:db8:1::1\n"
	"mx.test TXT v=spf1 mx -all\n"
	"mx.test MX 10 mx1.mx.test\n"
	"mx.test MX 20 mx2.mx.test\n"
	"mx1.mx.test A 192.0.2.20\n"
	"mx2.mx.test A 192.0.2.21\n"
	"mxcidr.test TXT v=spf1 mx:mx.test/30 -all\n"
	"ptr.test TXT v=spf1 ptr -all\n"
	"30.2.0.192.in-addr.arpa PTR mail.ptr.test\n"
	"mail.ptr.test A 192.0.2.30\n"
	"31.2.0.192.in-addr.arpa PTR forged.ptr.test\n"
	"include.test TXT v=spf1 include:ip4.test -all\n"
	"incsoft.test TXT v=spf1 include:softfail.test ?all\n"
	"exists.test TXT v=spf1 exists:%{ir}.list.exists.test -all\n"
	"5.2.0.192.list.exists.test A 127.0.0.2\n"
	"redirect.test TXT v=spf1 redirect=ip4.test\n"
	"allredir.test TXT v=spf1 +all redirect=all.test\n"
	"softfail.test TXT v=spf1 ~all\n"
	"neutral.test TXT v=spf1 ?all\n"
	"default.test TXT v=spf1 ip4:10.1.1.1\n"
	"nospf.test TXT some other text\n"
	"spfbad.test TXT v=spf10 -all\n"
	"two.test TXT v=spf1 -all\n"
	"two.test TXT v=spf1 +all\n"
	"upper.test TXT V=SPF1 IP4:192.0.2.0/24 -ALL\n"
	"unknownmod.test TXT v=spf1 foo=bar -all\n"
	"bad1.test TXT v=spf1 foo -all\n"
	"bad2.test TXT v=spf1 ip4:192.0.2.300 -all\n"
	"bad3.test TXT v=spf1 a:example -all\n"
	"bad4.test TXT v=spf1 redirect=a.test redirect=all.test\n"
	"bad5.test TXT v=spf1 ip4:192.0.2.0/33 -all\n"
	"bad6.test TXT v=spf1 a:%{x}.test -all\n"
	"bad7.test TXT v=spf1 include -all\n"
	"bad8.test TXT v=spf1 -all exp=\n"
	"bad9.test TXT v=spf1 a:%{d0}.test -all\n"
	"bad10.test TXT v=spf1 ip6:2001:db8::/129 -all\n"
	"bad11.test TXT v=spf1 a:%{c}.test -all\n"
	"bad12.test TXT v=spf1 a/024 -all\n"
	"bad13.test TXT v=spf1 ip4:192.0.2.1 -all foo:bar\n"
	"bad14.test TXT v=spf1 a:foo.test.1 -all\n"
	"incnone.test TXT v=spf1 include:nxdomain.test -all\n"
	"inctemp.test TXT v=spf1 include:servfail.test -all\n"
	"servfail.test SERVFAIL\n"
	"atemp.test TXT v=spf1 a:servfail.test -all\n"
	"mxtemp.test TXT v=spf1 mx -all\n"
	"mxtemp.test MX 10 servfail.test\n"
	"redirnone.test TXT v=spf1 redirect=nxdomain.test\n"
	"lim10.test TXT v=spf1 a:l1.test a:l2.test a:l3.test a:l4.test "
	    "a:l5.test a:l6.test a:l7.test a:l8.test a:l9.test a:l10.test "
	    "-all\n"
	"lim11.test TXT v=spf1 a:l1.test a:l2.test a:l3.test a:l4.test "
	    "a:l5.test a:l6.test a:l7.test a:l8.test a:l9.test a:l10.test "
	    "a:l11.test -all\n"
	"liminc.test TXT v=spf1 include:lim10.test -all\n"
	"l1.test A 10.9.9.1\n" "l2.test A 10.9.9.2\n" "l3.test A 10.9.9.3\n"
	"l4.test A 10.9.9.4\n" "l5.test A 10.9.9.5\n" "l6.test A 10.9.9.6\n"
	"l7.test A 10.9.9.7\n" "l8.test A 10.9.9.8\n" "l9.test A 10.9.9.9\n"
	"l10.test A 10.9.9.10\n" "l11.test A 10.9.9.11\n"
	"void2.test TXT v=spf1 a:nx1.test a:nx2.test -all\n"
	"void3.test TXT v=spf1 a:nx1.test mx:nx2.test exists:nx3.test -all\n"
	"mx10.test TXT v=spf1 mx -all\n"
	"mx11.test TXT v=spf1 mx -all\n"
	"mx10.test MX 1 m1.test\n" "mx10.test MX 2 m2.test\n"
	"mx10.test MX 3 m3.test\n" "mx10.test MX 4 m4.test\n"
	"mx10.test MX 5 m5.test\n" "mx10.test MX 6 m6.test\n"
	"mx10.test MX 7 m7.test\n" "mx10.test MX 8 m8.test\n"
	"mx10.test MX 9 m9.test\n" "mx10.test MX 10 m10.test\n"
	"mx11.test MX 1 m1.test\n" "mx11.test MX 2 m2.test\n"
	"mx11.test MX 3 m3.test\n" "mx11.test MX 4 m4.test\n"
	"mx11.test MX 5 m5.test\n" "mx11.test MX 6 m6.test\n"
	"mx11.test MX 7 m7.test\n" "mx11.test MX 8 m8.test\n"
	"mx11.test MX 9 m9.test\n" "mx11.test MX 10 m10.test\n"
	"mx11.test MX 11 m11.test\n"
	"m10.test A 192.0.2.40\n"
	"m11.test A 192.0.2.41\n"
	"ptr11.test TXT v=spf1 ptr -all\n"
	"50.2.0.192.in-addr.arpa PTR p1.ptr11.test\n"
	"50.2.0.192.in-addr.arpa PTR p2.ptr11.test\n"
	"50.2.0.192.in-addr.arpa PTR p3.ptr11.test\n"
	"50.2.0.192.in-addr.arpa PTR p4.ptr11.test\n"
	"50.2.0.192.in-addr.arpa PTR p5.ptr11.test\n"
	"50.2.0.192.in-addr.arpa PTR p6.ptr11.test\n"
	"50.2.0.192.in-addr.arpa PTR p7.ptr11.test\n"
	"50.2.0.192.in-addr.arpa PTR p8.ptr11.test\n"
	"50.2.0.192.in-addr.arpa PTR p9.ptr11.test\n"
	"50.2.0.192.in-addr.arpa PTR p10.ptr11.test\n"
	"50.2.0.192.in-addr.arpa PTR p11.ptr11.test\n"
	"p10.ptr11.test A 192.0.2.50\n"
	"p11.ptr11.test A 192.0.2.50\n"
	"exp.test TXT v=spf1 -all exp=explain.exp.test\n"
	"explain.exp.test TXT %{i} is not one of %{d}'s designated mail "
	    "servers.\n"
	"expbad.test TXT v=spf1 -all exp=nxdomain.test\n"
	"expredir.test TXT v=spf1 exp=explain.exp.test redirect=exp2.test\n"
	"exp2.test TXT v=spf1 -all\n"
	"pm.test TXT v=spf1 exists:%{p}.pm.test -all\n"
	"mail.ptr.test.pm.test A 127.0.0.2\n"
	"local.test TXT v=spf1 exists:%{l}.users.local.test -all\n"
	"alice.users.local.test A 127.0.0.2\n"
	"helo.test TXT v=spf1 a:%{h} -all\n"
	"mta.helo.test A 192.0.2.60\n"
	"space.test TXT v=spf1  ip4:192.0.2.0/24   -all\n";

struct spf_case {
	const char	*ip;
	const char	*helo;
	const char	*from;
	int		 identity;
	int		 result;
};

static struct zone	 zone;
static struct dnsq_answer answer;

static int
check(struct spf *s, int identity, const char *ip, const char *helo,
    const char *from, size_t *queries)
{
	struct dnsq_query	 q;
	int			 r, steps = 0;

	zone.queries = 0;
	if (spf_start(s, identity, ip, helo, from) == -1)
		return -1;
	r = spf_step(s, NULL, &q);
	while (r == SPF_STEP_DNS && steps++ < 200) {
		zone_answer(&zone, &q, &answer);
		r = spf_step(s, &answer, &q);
	}
	if (queries != NULL)
		*queries = zone.queries;
	return r == SPF_STEP_DONE ? spf_result(s) : -1;
}

static const struct spf_case cases[] = {
	{ "192.0.2.1", "h.test", "u@all.test", SPF_MAILFROM, SPF_FAIL },
	{ "192.0.2.1", "h.test", "u@pass.test", SPF_MAILFROM, SPF_PASS },
	{ "192.0.2.1", "h.test", "u@ip4.test", SPF_MAILFROM, SPF_PASS },
	{ "192.0.3.1", "h.test", "u@ip4.test", SPF_MAILFROM, SPF_FAIL },
	{ "192.0.2.5", "h.test", "u@ip4host.test", SPF_MAILFROM, SPF_PASS },
	{ "192.0.2.6", "h.test", "u@ip4host.test", SPF_MAILFROM, SPF_FAIL },
	{ "::ffff:192.0.2.5", "h.test", "u@ip4.test", SPF_MAILFROM,
	    SPF_PASS },
	{ "2001:db8:5::1", "h.test", "u@ip6.test", SPF_MAILFROM, SPF_PASS },
	{ "2001:db9::1", "h.test", "u@ip6.test", SPF_MAILFROM, SPF_FAIL },
	{ "192.0.2.5", "h.test", "u@ip6.test", SPF_MAILFROM, SPF_FAIL },
	{ "192.0.2.10", "h.test", "u@a.test", SPF_MAILFROM, SPF_PASS },
	{ "192.0.2.11", "h.test", "u@a.test", SPF_MAILFROM, SPF_FAIL },
	{ "2001:db8::10", "h.test", "u@a.test", SPF_MAILFROM, SPF_PASS },
	{ "198.51.100.200", "h.test", "u@acidr.test", SPF_MAILFROM,
	    SPF_PASS },
	{ "198.51.101.1", "h.test", "u@acidr.test", SPF_MAILFROM, SPF_FAIL },
	{ "2001:db8:1::ffff", "h.test", "u@acidr.test", SPF_MAILFROM,
	    SPF_PASS },
	{ "2001:db8:1:1::1", "h.test", "u@acidr.test", SPF_MAILFROM,
	    SPF_FAIL },
	{ "192.0.2.21", "h.test", "u@mx.test", SPF_MAILFROM, SPF_PASS },
	{ "192.0.2.22", "h.test", "u@mx.test", SPF_MAILFROM, SPF_FAIL },
	{ "192.0.2.22", "h.test", "u@mxcidr.test", SPF_MAILFROM, SPF_PASS },
	{ "192.0.2.30", "h.test", "u@ptr.test", SPF_MAILFROM, SPF_PASS },
	{ "192.0.2.31", "h.test", "u@ptr.test", SPF_MAILFROM, SPF_FAIL },
	{ "192.0.2.32", "h.test", "u@ptr.test", SPF_MAILFROM, SPF_FAIL },
	{ "192.0.2.9", "h.test", "u@include.test", SPF_MAILFROM, SPF_PASS },
	{ "10.0.0.1", "h.test", "u@include.test", SPF_MAILFROM, SPF_FAIL },
	{ "10.0.0.1", "h.test", "u@incsoft.test", SPF_MAILFROM,
	    SPF_NEUTRAL },
	{ "192.0.2.5", "h.test", "u@exists.test", SPF_MAILFROM, SPF_PASS },
	{ "192.0.2.6", "h.test", "u@exists.test", SPF_MAILFROM, SPF_FAIL },
	{ "192.0.2.9", "h.test", "u@redirect.test", SPF_MAILFROM, SPF_PASS },
	{ "10.0.0.1", "h.test", "u@redirect.test", SPF_MAILFROM, SPF_FAIL },
	{ "10.0.0.1", "h.test", "u@allredir.test", SPF_MAILFROM, SPF_PASS },
	{ "10.0.0.1", "h.test", "u@softfail.test", SPF_MAILFROM,
	    SPF_SOFTFAIL },
	{ "10.0.0.1", "h.test", "u@neutral.test", SPF_MAILFROM,
	    SPF_NEUTRAL },
	{ "10.0.0.1", "h.test", "u@default.test", SPF_MAILFROM,
	    SPF_NEUTRAL },
	{ "10.0.0.1", "h.test", "u@nospf.test", SPF_MAILFROM, SPF_NONE },
	{ "10.0.0.1", "h.test", "u@spfbad.test", SPF_MAILFROM, SPF_NONE },
	{ "10.0.0.1", "h.test", "u@nxdomain.test", SPF_MAILFROM, SPF_NONE },
	{ "10.0.0.1", "h.test", "u@localhost", SPF_MAILFROM, SPF_NONE },
	{ "10.0.0.1", "h.test", "u@two.test", SPF_MAILFROM, SPF_PERMERROR },
	{ "192.0.2.1", "h.test", "u@upper.test", SPF_MAILFROM, SPF_PASS },
	{ "192.0.2.1", "h.test", "u@unknownmod.test", SPF_MAILFROM,
	    SPF_FAIL },
	{ "192.0.2.1", "h.test", "u@space.test", SPF_MAILFROM, SPF_PASS },
	{ "10.0.0.1", "h.test", "u@bad1.test", SPF_MAILFROM, SPF_PERMERROR },
	{ "10.0.0.1", "h.test", "u@bad2.test", SPF_MAILFROM, SPF_PERMERROR },
	{ "10.0.0.1", "h.test", "u@bad3.test", SPF_MAILFROM, SPF_PERMERROR },
	{ "10.0.0.1", "h.test", "u@bad4.test", SPF_MAILFROM, SPF_PERMERROR },
	{ "10.0.0.1", "h.test", "u@bad5.test", SPF_MAILFROM, SPF_PERMERROR },
	{ "10.0.0.1", "h.test", "u@bad6.test", SPF_MAILFROM, SPF_PERMERROR },
	{ "10.0.0.1", "h.test", "u@bad7.test", SPF_MAILFROM, SPF_PERMERROR },
	{ "10.0.0.1", "h.test", "u@bad8.test", SPF_MAILFROM, SPF_PERMERROR },
	{ "10.0.0.1", "h.test", "u@bad9.test", SPF_MAILFROM, SPF_PERMERROR },
	{ "10.0.0.1", "h.test", "u@bad10.test", SPF_MAILFROM,
	    SPF_PERMERROR },
	{ "10.0.0.1", "h.test", "u@bad11.test", SPF_MAILFROM,
	    SPF_PERMERROR },
	{ "10.0.0.1", "h.test", "u@bad12.test", SPF_MAILFROM,
	    SPF_PERMERROR },
	/* A syntax error after a matching term is still an error. */
	{ "192.0.2.1", "h.test", "u@bad13.test", SPF_MAILFROM,
	    SPF_PERMERROR },
	{ "10.0.0.1", "h.test", "u@bad14.test", SPF_MAILFROM,
	    SPF_PERMERROR },
	{ "10.0.0.1", "h.test", "u@incnone.test", SPF_MAILFROM,
	    SPF_PERMERROR },
	{ "10.0.0.1", "h.test", "u@inctemp.test", SPF_MAILFROM,
	    SPF_TEMPERROR },
	{ "10.0.0.1", "h.test", "u@servfail.test", SPF_MAILFROM,
	    SPF_TEMPERROR },
	{ "10.0.0.1", "h.test", "u@atemp.test", SPF_MAILFROM,
	    SPF_TEMPERROR },
	{ "10.0.0.1", "h.test", "u@mxtemp.test", SPF_MAILFROM,
	    SPF_TEMPERROR },
	{ "10.0.0.1", "h.test", "u@redirnone.test", SPF_MAILFROM,
	    SPF_PERMERROR },
	{ "10.0.0.1", "h.test", "u@lim10.test", SPF_MAILFROM, SPF_FAIL },
	{ "10.9.9.10", "h.test", "u@lim10.test", SPF_MAILFROM, SPF_PASS },
	{ "10.0.0.1", "h.test", "u@lim11.test", SPF_MAILFROM,
	    SPF_PERMERROR },
	/* The include is the 11th DNS term. */
	{ "10.0.0.1", "h.test", "u@liminc.test", SPF_MAILFROM,
	    SPF_PERMERROR },
	{ "10.0.0.1", "h.test", "u@void2.test", SPF_MAILFROM, SPF_FAIL },
	{ "10.0.0.1", "h.test", "u@void3.test", SPF_MAILFROM,
	    SPF_PERMERROR },
	{ "192.0.2.40", "h.test", "u@mx10.test", SPF_MAILFROM, SPF_PASS },
	{ "192.0.2.41", "h.test", "u@mx11.test", SPF_MAILFROM,
	    SPF_PERMERROR },
	/* Only 10 PTR names are looked at: p10 validates, p11 is not seen. */
	{ "192.0.2.50", "h.test", "u@ptr11.test", SPF_MAILFROM, SPF_PASS },
	{ "192.0.2.30", "h.test", "u@pm.test", SPF_MAILFROM, SPF_PASS },
	{ "192.0.2.31", "h.test", "u@pm.test", SPF_MAILFROM, SPF_FAIL },
	{ "10.0.0.1", "h.test", "alice@local.test", SPF_MAILFROM, SPF_PASS },
	{ "10.0.0.1", "h.test", "bob@local.test", SPF_MAILFROM, SPF_FAIL },
	{ "192.0.2.60", "mta.helo.test", "u@helo.test", SPF_MAILFROM,
	    SPF_PASS },
	/* HELO identity, and the null sender checked as postmaster@helo. */
	{ "192.0.2.10", "a.test", "u@all.test", SPF_HELO, SPF_PASS },
	{ "192.0.2.11", "a.test", "u@pass.test", SPF_HELO, SPF_FAIL },
	{ "192.0.2.10", "a.test", "", SPF_MAILFROM, SPF_PASS },
	{ "10.0.0.1", "[10.0.0.1]", "", SPF_MAILFROM, SPF_NONE },
};

static void
test_cases(void)
{
	struct spf	*s;
	size_t		 i;
	int		 r;

	s = spf_new();
	CHECK(s != NULL);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = check(s, cases[i].identity, cases[i].ip, cases[i].helo,
		    cases[i].from, NULL);
		CHECKF(r == cases[i].result, "%s from %s helo %s: %s (%s), "
		    "want %s", cases[i].ip, cases[i].from, cases[i].helo,
		    spf_result_name(r), spf_reason(s),
		    spf_result_name(cases[i].result));
	}
	spf_free(s);
}

static void
test_explanation(void)
{
	struct spf	*s = spf_new();

	CHECK(check(s, SPF_MAILFROM, "192.0.2.99", "h.test", "u@exp.test",
	    NULL) == SPF_FAIL);
	CHECKF(strcmp(spf_explanation(s), "192.0.2.99 is not one of "
	    "exp.test's designated mail servers.") == 0, "%s",
	    spf_explanation(s));
	/* A missing explanation leaves the fail alone. */
	CHECK(check(s, SPF_MAILFROM, "192.0.2.99", "h.test",
	    "u@expbad.test", NULL) == SPF_FAIL);
	CHECK(strcmp(spf_explanation(s), "") == 0);
	/* After a redirect the original record's exp= is not used. */
	CHECK(check(s, SPF_MAILFROM, "192.0.2.99", "h.test",
	    "u@expredir.test", NULL) == SPF_FAIL);
	CHECK(strcmp(spf_explanation(s), "") == 0);
	/* Not asked for on a pass. */
	CHECK(check(s, SPF_MAILFROM, "192.0.2.1", "h.test", "u@ip4.test",
	    NULL) == SPF_PASS);
	CHECK(strcmp(spf_explanation(s), "") == 0);
	CHECK(strcmp(spf_domain(s), "ip4.test") == 0);
	spf_free(s);
}

struct macro_case {
	const char	*in;
	const char	*out;
};

/* RFC 7208 7.4, sender strong-bad@email.example.com from 192.0.2.3. */
static const struct macro_case macros4[] = {
	{ "%{s}", "strong-bad@email.example.com" },
	{ "%{o}", "email.example.com" },
	{ "%{d}", "email.example.com" },
	{ "%{d4}", "email.example.com" },
	{ "%{d3}", "email.example.com" },
	{ "%{d2}", "example.com" },
	{ "%{d1}", "com" },
	{ "%{dr}", "com.example.email" },
	{ "%{d2r}", "example.email" },
	{ "%{l}", "strong-bad" },
	{ "%{l-}", "strong.bad" },
	{ "%{lr}", "strong-bad" },
	{ "%{lr-}", "bad.strong" },
	{ "%{l1r-}", "strong" },
	{ "%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com" },
	{ "%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com" },
	{ "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}",
	    "bad.strong.lp.3.2.0.192.in-addr._spf.example.com" },
	{ "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}",
	    "3.2.0.192.in-addr.strong.lp._spf.example.com" },
	{ "%{d2}.trusted-domains.example.net",
	    "example.com.trusted-domains.example.net" },
	{ "%{i}", "192.0.2.3" },
	{ "%{h}", "mx.example.org" },
	{ "%{S}", "strong-bad%40email.example.com" },
	{ "%{l=}", "strong-bad" },
	{ "a%%b%_c%-d", "a%b c%20d" },
	{ "%{c}", "192.0.2.3" },
	{ "%{r}", "mx.receiver.test" },
	{ "%{t}", "1700000000" },
};

static const struct macro_case macros6[] = {
	{ "%{ir}.%{v}._spf.%{d2}", "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
	    "0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com" },
	{ "%{c}", "2001:db8::cb01" },
	{ "%{v}", "ip6" },
};

static const char *bad_macros[] = {
	"%{x}", "%{d0}", "%{d", "%", "%a", "%{}", "%{d2r-x}",
};

static void
test_macros(void)
{
	struct spf	*s = spf_new();
	char		 out[512];
	size_t		 i;
	int		 r;

	spf_start(s, SPF_MAILFROM, "192.0.2.3", "mx.example.org",
	    "strong-bad@email.example.com");
	spf_set_receiver(s, "mx.receiver.test");
	spf_set_time(s, 1700000000);
	for (i = 0; i < sizeof(macros4) / sizeof(macros4[0]); i++) {
		r = spf_macro_expand(s, macros4[i].in, strlen(macros4[i].in),
		    1, out, sizeof(out));
		CHECKF(r == 0 && strcmp(out, macros4[i].out) == 0,
		    "%s: %d \"%s\"", macros4[i].in, r, r == 0 ? out : "");
	}
	/* c, r and t only in an explanation. */
	CHECK(spf_macro_expand(s, "%{c}", 4, 0, out, sizeof(out)) == -1);
	for (i = 0; i < sizeof(bad_macros) / sizeof(bad_macros[0]); i++)
		CHECKF(spf_macro_expand(s, bad_macros[i],
		    strlen(bad_macros[i]), 1, out, sizeof(out)) == -1, "%s",
		    bad_macros[i]);
	/* %{p} needs the PTR validation (DNS) first. */
	CHECK(spf_macro_expand(s, "%{p}", 4, 0, out, sizeof(out)) == 1);
	/* A result longer than the buffer is refused, not cut. */
	CHECK(spf_macro_expand(s, "%{s}%{s}", 8, 0, out, 20) == -1);

	spf_start(s, SPF_MAILFROM, "2001:db8::cb01", "mx.example.org",
	    "strong-bad@email.example.com");
	for (i = 0; i < sizeof(macros6) / sizeof(macros6[0]); i++) {
		r = spf_macro_expand(s, macros6[i].in, strlen(macros6[i].in),
		    1, out, sizeof(out));
		CHECKF(r == 0 && strcmp(out, macros6[i].out) == 0,
		    "%s: %d \"%s\"", macros6[i].in, r, r == 0 ? out : "");
	}
	spf_free(s);
}

static void
test_parser(void)
{
	struct spf_record	*r = malloc(sizeof(*r));
	char			 err[128];
	const char		*rec;

	rec = "v=spf1 ~ip4:192.0.2.0/24 ?a:%{d}/28//64 -mx include:x.test "
	    "ptr:y.test exists:%{i}.z.test ip6:::1 redirect=r.test "
	    "exp=e.test";
	CHECK(spf_record_parse(r, rec, strlen(rec), err, sizeof(err)) == 0);
	CHECK(r->nterms == 7);
	CHECK(r->terms[0].mech == SPF_M_IP4 &&
	    r->terms[0].result == SPF_SOFTFAIL && r->terms[0].cidr4 == 24);
	CHECK(r->terms[1].mech == SPF_M_A && r->terms[1].cidr4 == 28 &&
	    r->terms[1].cidr6 == 64 && r->terms[1].speclen == 4);
	CHECK(r->terms[2].mech == SPF_M_MX &&
	    r->terms[2].result == SPF_FAIL && r->terms[2].speclen == 0);
	CHECK(r->terms[6].mech == SPF_M_IP6 && r->terms[6].cidr6 == 128);
	CHECK(r->redirectlen == 6 && r->explen == 6);
	CHECK(spf_record_parse(r, "v=spf1", 6, err, sizeof(err)) == 0 &&
	    r->nterms == 0);
	CHECK(spf_record_parse(r, "v=spf1 a//", 10, err, sizeof(err)) == -1);
	CHECK(spf_record_parse(r, "v=spf1 all:x.test", 17, err,
	    sizeof(err)) == -1);
	CHECK(spf_record_parse(r, "v=spf1 =x", 9, err, sizeof(err)) == -1);
	CHECK(spf_record_is("v=spf1 -all", 11));
	CHECK(!spf_record_is("v=spf10", 7));
	free(r);
}

int
main(void)
{
	zone_load(&zone, zone_text);
	test_cases();
	test_explanation();
	test_macros();
	test_parser();
	zone_free(&zone);
	return unit_done("test_spf");
}
