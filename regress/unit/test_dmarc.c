/*
 * test_dmarc: lib/dmarc.c, lib/psl.c and lib/author.c: the From domain
 * (display names, comments and groups that must not pass for it),
 * record parsing, organisational domains from a small list with
 * wildcard and exception rules and from the Debian publicsuffix file,
 * the policy lookup (From domain, then organisational domain), strict
 * and relaxed alignment, sp= for subdomains, pct= sampling with a fixed
 * random source, DNS failure.
 */

#include <stdlib.h>
#include <string.h>

#include "author.h"
#include "dmarc.h"
#include "unit.h"
#include "zone.h"

static const char psl_text[] =
	"// a small list in the format of the real one\n"
	"uk\nco.uk\n"
	"*.ck\n!www.ck\n"
	"test\norg\ncom\n"
	"jp\n*.kawasaki.jp\n!city.kawasaki.jp\n"
	"// internationalized rules are written in UTF-8\n"
	"cn\n\xe5\x85\xac\xe5\x8f\xb8.cn\n"
	"b\xc3\xbc" "cher.example\n"
	"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\n"
	"bad\xff.cn\n"
	"// ===BEGIN PRIVATE DOMAINS===\n"
	"  blogspot.com   trailing words are ignored\n";

static const char zone_text[] =
	"_dmarc.example.org TXT v=DMARC1; p=reject; sp=quarantine; adkim=s\n"
	"_dmarc.relaxed.test TXT v=DMARC1; p=quarantine\n"
	"_dmarc.strictspf.test TXT v=DMARC1; p=reject; aspf=s\n"
	"_dmarc.pct.test TXT v=DMARC1; p=reject; pct=50\n"
	"_dmarc.pctq.test TXT v=DMARC1; p=quarantine; pct=0\n"
	"_dmarc.none.test TXT v=DMARC1; p=none\n"
	"_dmarc.servfail.test SERVFAIL\n"
	"_dmarc.two.test TXT v=DMARC1; p=reject\n"
	"_dmarc.two.test TXT v=DMARC1; p=none\n"
	"_dmarc.bad.test TXT v=DMARC1; p=bogus\n"
	"_dmarc.ruaonly.test TXT v=DMARC1; p=bogus; rua=mailto:d@ruaonly.test\n"
	"_dmarc.other.test TXT v=spf1 -all\n"
	"_dmarc.other.test TXT v=DMARC1; p=reject\n"
	"_dmarc.example.co.uk TXT v=DMARC1; p=reject\n";

static struct zone	 zone;
static struct dnsq_answer answer;
static struct psl	*psl;

struct dmarc_case {
	const char	*from;
	const char	*spf;		/* passing SPF domain or NULL */
	const char	*dkim;		/* passing DKIM d= or NULL */
	uint32_t	 rnd;
	int		 result;
	int		 policy;
	size_t		 queries;
};

static uint32_t
fixed_rand(void *arg)
{
	return *(uint32_t *)arg;
}

static const struct dmarc_case cases[] = {
	/* adkim=s: only the same name aligns. */
	{ "example.org", NULL, "example.org", 0, DMARC_PASS, DMARC_P_NONE,
	    1 },
	{ "example.org", NULL, "mail.example.org", 0, DMARC_FAIL,
	    DMARC_P_REJECT, 1 },
	{ "Example.ORG", NULL, "EXAMPLE.org.", 0, DMARC_PASS, DMARC_P_NONE,
	    1 },
	/* aspf relaxed by default. */
	{ "example.org", "bounce.example.org", NULL, 0, DMARC_PASS,
	    DMARC_P_NONE, 1 },
	{ "relaxed.test", NULL, "mail.relaxed.test", 0, DMARC_PASS,
	    DMARC_P_NONE, 1 },
	{ "strictspf.test", "bounce.strictspf.test", NULL, 0, DMARC_FAIL,
	    DMARC_P_REJECT, 1 },
	{ "strictspf.test", "strictspf.test", NULL, 0, DMARC_PASS,
	    DMARC_P_NONE, 1 },
	/* A subdomain takes the organisational domain's sp=. */
	{ "news.example.org", "other.test", NULL, 0, DMARC_FAIL,
	    DMARC_P_QUARANTINE, 2 },
	/* Forged From: SPF and DKIM pass, but for another domain. */
	{ "example.org", "attacker.test", "attacker.test", 0, DMARC_FAIL,
	    DMARC_P_REJECT, 1 },
	{ "relaxed.test", NULL, "relaxed.test.attacker.test", 0, DMARC_FAIL,
	    DMARC_P_QUARANTINE, 1 },
	/* pct=50: 10 is sampled in, 70 out (one step down). */
	{ "pct.test", NULL, NULL, 10, DMARC_FAIL, DMARC_P_REJECT, 1 },
	{ "pct.test", NULL, NULL, 170, DMARC_FAIL, DMARC_P_QUARANTINE, 1 },
	{ "pctq.test", NULL, NULL, 0, DMARC_FAIL, DMARC_P_NONE, 1 },
	{ "none.test", NULL, NULL, 0, DMARC_FAIL, DMARC_P_NONE, 1 },
	{ "nopolicy.test", "nopolicy.test", NULL, 0, DMARC_NONE,
	    DMARC_P_NONE, 1 },
	{ "a.b.nopolicy.test", NULL, NULL, 0, DMARC_NONE, DMARC_P_NONE, 2 },
	{ "servfail.test", NULL, NULL, 0, DMARC_TEMPERROR, DMARC_P_NONE, 1 },
	{ "two.test", NULL, NULL, 0, DMARC_NONE, DMARC_P_NONE, 1 },
	{ "bad.test", NULL, NULL, 0, DMARC_NONE, DMARC_P_NONE, 1 },
	{ "ruaonly.test", NULL, NULL, 0, DMARC_FAIL, DMARC_P_NONE, 1 },
	{ "other.test", NULL, NULL, 0, DMARC_FAIL, DMARC_P_REJECT, 1 },
	{ "www.example.co.uk", NULL, "example.co.uk", 0, DMARC_PASS,
	    DMARC_P_NONE, 2 },
	{ "www.example.co.uk", NULL, NULL, 0, DMARC_FAIL, DMARC_P_REJECT,
	    2 },
};

/* The results given first, or (deferred) after the record lookups. */
static void
set_results(struct dmarc *d, const struct dmarc_case *c)
{
	if (c->spf != NULL)
		dmarc_set_spf(d, 1, c->spf);
	else
		dmarc_set_spf(d, 0, c->from);
	dmarc_add_dkim(d, 0, c->from);
	if (c->dkim != NULL)
		dmarc_add_dkim(d, 1, c->dkim);
}

static void
test_cases(int deferred)
{
	struct dmarc		*d = dmarc_new(psl);
	const struct dmarc_case	*c;
	struct dnsq_query	 q;
	uint32_t		 rnd;
	size_t			 i;
	int			 r, steps;

	dmarc_set_random(d, fixed_rand, &rnd);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		c = &cases[i];
		rnd = c->rnd;
		zone.queries = 0;
		CHECK(dmarc_start(d, c->from) == 0);
		if (deferred)
			dmarc_defer(d);
		else
			set_results(d, c);
		steps = 0;
		r = dmarc_step(d, NULL, &q);
		while (r == DMARC_STEP_DNS && steps++ < 5) {
			zone_answer(&zone, &q, &answer);
			r = dmarc_step(d, &answer, &q);
		}
		if (deferred) {
			CHECK(dmarc_step(d, NULL, &q) == DMARC_STEP_DONE);
			set_results(d, c);
			dmarc_conclude(d);
		}
		CHECKF(r == DMARC_STEP_DONE && dmarc_result(d) == c->result &&
		    dmarc_policy(d) == c->policy && zone.queries == c->queries,
		    "case %zu%s (%s): %s policy %s after %zu queries (%s)", i,
		    deferred ? " deferred" : "", c->from,
		    dmarc_result_name(dmarc_result(d)),
		    dmarc_policy_name(dmarc_policy(d)), zone.queries,
		    dmarc_reason(d));
	}
	/* What the lookup asked, and what it found. */
	dmarc_start(d, "news.example.org");
	CHECK(dmarc_step(d, NULL, &q) == DMARC_STEP_DNS &&
	    strcmp(q.name, "_dmarc.news.example.org") == 0 &&
	    q.type == DNSQ_TXT);
	zone_answer(&zone, &q, &answer);
	CHECK(dmarc_step(d, &answer, &q) == DMARC_STEP_DNS &&
	    strcmp(q.name, "_dmarc.example.org") == 0);
	zone_answer(&zone, &q, &answer);
	CHECK(dmarc_step(d, &answer, &q) == DMARC_STEP_DONE);
	CHECK(dmarc_found(d) != NULL && dmarc_found(d)->adkim == 's');
	CHECK(dmarc_published(d) == DMARC_P_QUARANTINE);
	CHECK(strcmp(dmarc_org_domain(d), "example.org") == 0);
	CHECK(dmarc_start(d, "a..b") == -1 &&
	    dmarc_result(d) == DMARC_PERMERROR);
	dmarc_free(d);
}

static void
test_record(void)
{
	struct dmarc_record	 r;
	char			 err[64];
	const char		*s;

	s = "v=DMARC1; p=reject; sp=none; pct=20; adkim=s; aspf=s; fo=1:d; "
	    "ri=3600; rua=mailto:a@x.test,mailto:b@y.test; "
	    "ruf=mailto:f@x.test; unknown=ignored";
	CHECK(dmarc_record_parse(&r, s, strlen(s), err, sizeof(err)) == 0);
	CHECK(r.p == DMARC_P_REJECT && r.sp == DMARC_P_NONE && r.pct == 20);
	CHECK(r.adkim == 's' && r.aspf == 's' && r.ri == 3600);
	CHECK(r.fo == (DMARC_FO_1 | DMARC_FO_D));
	CHECK(strcmp(r.rua, "mailto:a@x.test,mailto:b@y.test") == 0);
	CHECK(strcmp(r.ruf, "mailto:f@x.test") == 0);
	s = "v=DMARC1;p=quarantine";
	CHECK(dmarc_record_parse(&r, s, strlen(s), err, sizeof(err)) == 0);
	CHECK(r.p == DMARC_P_QUARANTINE && r.sp == DMARC_P_QUARANTINE &&
	    r.pct == 100 && r.adkim == 'r' && r.aspf == 'r' &&
	    r.ri == 86400 && r.fo == DMARC_FO_0);
	s = "v=DMARC1";
	CHECK(dmarc_record_parse(&r, s, strlen(s), err, sizeof(err)) == -1);
	s = "v=DMARC1; p=none; pct=101";
	CHECK(dmarc_record_parse(&r, s, strlen(s), err, sizeof(err)) == -1);
	s = "v=DMARC1; pct=50; p=reject";
	CHECK(dmarc_record_parse(&r, s, strlen(s), err, sizeof(err)) == -1);
	s = "v=DMARC1; p=none; adkim=x";
	CHECK(dmarc_record_parse(&r, s, strlen(s), err, sizeof(err)) == -1);
	s = "v=DMARC1; p=none; fo=2";
	CHECK(dmarc_record_parse(&r, s, strlen(s), err, sizeof(err)) == -1);
	s = "v=DMARC1; p=none; p=reject";
	CHECK(dmarc_record_parse(&r, s, strlen(s), err, sizeof(err)) == -1);
	s = "p=none; v=DMARC1";
	CHECK(dmarc_record_parse(&r, s, strlen(s), err, sizeof(err)) == -1);
	s = "v=DMARC1; p=bogus; rua=mailto:a@x.test";
	CHECK(dmarc_record_parse(&r, s, strlen(s), err, sizeof(err)) == 0 &&
	    r.p == DMARC_P_NONE);
	CHECK(dmarc_record_is("v=DMARC1", 8));
	CHECK(dmarc_record_is(" v = DMARC1 ;p=none", 19));
	CHECK(!dmarc_record_is("v=DMARC10; p=none", 17));
	CHECK(!dmarc_record_is("v=spf1", 6));
}

struct org_case {
	const char	*domain;
	int		 r;
	const char	*org;
};

static const struct org_case org_cases[] = {
	{ "example.co.uk", 0, "example.co.uk" },
	{ "www.Example.CO.uk.", 0, "example.co.uk" },
	{ "co.uk", 1, "co.uk" },
	{ "uk", 1, "uk" },
	{ "foo.bar.ck", 0, "foo.bar.ck" },
	{ "a.foo.bar.ck", 0, "foo.bar.ck" },
	{ "bar.ck", 1, "bar.ck" },
	{ "www.ck", 0, "www.ck" },
	{ "a.www.ck", 0, "www.ck" },
	{ "city.kawasaki.jp", 0, "city.kawasaki.jp" },
	{ "a.city.kawasaki.jp", 0, "city.kawasaki.jp" },
	{ "x.y.kawasaki.jp", 0, "x.y.kawasaki.jp" },
	{ "foo.blogspot.com", 0, "foo.blogspot.com" },
	{ "a.b.example.com", 0, "example.com" },
	{ "a.b.example.unlisted", 0, "example.unlisted" },
	{ "a.b.xn--55qx5d.cn", 0, "b.xn--55qx5d.cn" },
	{ "xn--55qx5d.cn", 1, "xn--55qx5d.cn" },
	{ "a.b.\xe5\x85\xac\xe5\x8f\xb8.cn", 0, "b.xn--55qx5d.cn" },
	{ "x.y.xn--bcher-kva.example", 0, "y.xn--bcher-kva.example" },
	{ "x.y.xn--wgv71a119e", 0, "y.xn--wgv71a119e" },
	{ "a.b.bad\xff.cn", -1, NULL },
	{ "", -1, NULL },
	{ "a..b", -1, NULL },
	{ ".a.b", -1, NULL },
};

static void
test_psl(void)
{
	struct psl	*l;
	char		 out[256], err[128];
	size_t		 i;
	int		 r;

	/* The rule that is not UTF-8 is left out. */
	CHECK(psl_count(psl) == 15);
	for (i = 0; i < sizeof(org_cases) / sizeof(org_cases[0]); i++) {
		r = psl_org_domain(psl, org_cases[i].domain, out, sizeof(out));
		CHECKF(r == org_cases[i].r && (r == -1 ||
		    strcmp(out, org_cases[i].org) == 0), "%s: %d %s",
		    org_cases[i].domain, r, r == -1 ? "" : out);
	}
	CHECK(psl_org_domain(NULL, "a.b.c", out, sizeof(out)) == 0 &&
	    strcmp(out, "b.c") == 0);
	CHECK(psl_org_domain(psl, "a.b.example.com", out, 5) == -1);
	CHECK(psl_parse("// nothing\n", 11, err, sizeof(err)) == NULL);
	CHECK(psl_load("/nonexistent/psl.dat", err, sizeof(err)) == NULL &&
	    strstr(err, "/nonexistent") != NULL);

	/* The list Debian ships (publicsuffix, in regress/deps.sh). */
	l = psl_load(PSL_PATH_DEFAULT, err, sizeof(err));
	CHECKF(l != NULL, "%s", err);
	if (l == NULL)
		return;
	CHECK(psl_count(l) > 5000);
	CHECK(psl_org_domain(l, "www.example.co.uk", out, sizeof(out)) == 0 &&
	    strcmp(out, "example.co.uk") == 0);
	CHECK(psl_org_domain(l, "mail.example.com", out, sizeof(out)) == 0 &&
	    strcmp(out, "example.com") == 0);
	CHECK(psl_org_domain(l, "a.www.ck", out, sizeof(out)) == 0 &&
	    strcmp(out, "www.ck") == 0);
	CHECK(psl_org_domain(l, "a.b.c.ck", out, sizeof(out)) == 0 &&
	    strcmp(out, "b.c.ck") == 0);
	CHECK(psl_org_domain(l, "co.uk", out, sizeof(out)) == 1);
	CHECK(psl_org_domain(l, "a.b.xn--55qx5d.cn", out, sizeof(out)) == 0 &&
	    strcmp(out, "b.xn--55qx5d.cn") == 0);
	CHECK(psl_org_domain(l, "a.b.xn--55qx5d.xn--j6w193g", out,
	    sizeof(out)) == 0 && strcmp(out, "b.xn--55qx5d.xn--j6w193g") == 0);
	psl_free(l);
}

struct author_case {
	const char	*value;
	int		 r;
	const char	*domain;
};

static const struct author_case author_cases[] = {
	{ " Alice <alice@Example.ORG>", AUTHOR_OK, "example.org" },
	{ "alice@example.org", AUTHOR_OK, "example.org" },
	{ " \"Bob, the <boss@evil.test>\" <bob@example.org>", AUTHOR_OK,
	    "example.org" },
	{ "alice@example.org (Alice @ evil.test)", AUTHOR_OK,
	    "example.org" },
	{ "(c@evil.test) alice@example.org", AUTHOR_OK, "example.org" },
	{ "paypal@paypal.test <evil@evil.test>", AUTHOR_OK, "evil.test" },
	{ "\"a@evil.test\"@example.org", AUTHOR_OK, "example.org" },
	{ "a@x.test, B <b@X.test>", AUTHOR_OK, "x.test" },
	{ "Team: a@x.test, b@x.test;", AUTHOR_OK, "x.test" },
	{ "=?utf-8?q?Al=40ice?= <alice@example.org>\r\n", AUTHOR_OK,
	    "example.org" },
	{ " Alice\r\n <alice@example.org>", AUTHOR_OK, "example.org" },
	{ "a@x.test, b@y.test", AUTHOR_SEVERAL, NULL },
	{ "", AUTHOR_NONE, NULL },
	{ "Alice", AUTHOR_NONE, NULL },
	{ "<>", AUTHOR_NONE, NULL },
	{ "undisclosed-recipients:;", AUTHOR_NONE, NULL },
	{ "a@[192.0.2.1]", AUTHOR_NONE, NULL },
	{ "Alice <alice@example.org", AUTHOR_NONE, NULL },
	{ "a@x.test b@y.test", AUTHOR_NONE, NULL },
	{ "a@x.test, b@", AUTHOR_NONE, NULL },
	{ "a@localhost", AUTHOR_NONE, NULL },
	{ "\"unclosed <a@x.test>", AUTHOR_NONE, NULL },
	{ "a@x..test", AUTHOR_NONE, NULL },
};

static void
test_author(void)
{
	char	 out[256];
	size_t	 i;
	int	 r;

	for (i = 0; i < sizeof(author_cases) / sizeof(author_cases[0]); i++) {
		r = author_domain(author_cases[i].value,
		    strlen(author_cases[i].value), out, sizeof(out));
		CHECKF(r == author_cases[i].r && (r != AUTHOR_OK ||
		    strcmp(out, author_cases[i].domain) == 0), "%s: %d %s",
		    author_cases[i].value, r, r == AUTHOR_OK ? out : "");
	}
}

int
main(void)
{
	char	 err[128];

	psl = psl_parse(psl_text, strlen(psl_text), err, sizeof(err));
	CHECKF(psl != NULL, "%s", err);
	if (psl == NULL)
		return unit_done("test_dmarc");
	zone_load(&zone, zone_text);
	test_record();
	test_author();
	test_psl();
	test_cases(0);
	test_cases(1);
	zone_free(&zone);
	psl_free(psl);
	return unit_done("test_dmarc");
}
