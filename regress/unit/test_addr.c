/*
 * Unit tests for lib/addr.c: RFC 5321 paths and mailboxes, good and bad,
 * with and without the SMTPUTF8, null-path and no-bracket allowances.
 */

#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "unit.h"

struct good {
	const char	*in;
	int		 flags;
	const char	*local;
	const char	*domain;
	const char	*rest;
	const char	*formatted;
};

static const struct good good_paths[] = {
	{ "<user@example.org>", 0, "user", "example.org", "",
	    "user@example.org" },
	{ "<User.Name@Example.ORG>", 0, "User.Name", "example.org", "",
	    "User.Name@example.org" },
	{ "<a+b=c!#$%&'*/?^_`{|}~-x@ex-ample.org>", 0,
	    "a+b=c!#$%&'*/?^_`{|}~-x", "ex-ample.org", "",
	    "a+b=c!#$%&'*/?^_`{|}~-x@ex-ample.org" },
	{ "<>", ADDR_ALLOW_NULL, "", "", "", "" },
	{ "<> SIZE=100", ADDR_ALLOW_NULL, "", "", "SIZE=100", "" },
	{ "<u@d.org> SIZE=1000 BODY=8BITMIME", 0, "u", "d.org",
	    "SIZE=1000 BODY=8BITMIME", "u@d.org" },
	{ "<u@d.org>   NOTIFY=NEVER", 0, "u", "d.org", "NOTIFY=NEVER",
	    "u@d.org" },
	{ " <u@d.org>", 0, "u", "d.org", "", "u@d.org" },
	{ "<\"john doe\"@example.org>", 0, "john doe", "example.org", "",
	    "\"john doe\"@example.org" },
	{ "<\"a\\\"b\\\\c\"@example.org>", 0, "a\"b\\c", "example.org", "",
	    "\"a\\\"b\\\\c\"@example.org" },
	{ "<\"plain\"@example.org>", 0, "plain", "example.org", "",
	    "plain@example.org" },
	{ "<\"\"@example.org>", 0, "", "example.org", "",
	    "\"\"@example.org" },
	{ "<\".dot\"@example.org>", 0, ".dot", "example.org", "",
	    "\".dot\"@example.org" },
	{ "<postmaster@[192.0.2.1]>", 0, "postmaster", "[192.0.2.1]", "",
	    "postmaster@[192.0.2.1]" },
	{ "<x@[IPv6:2001:db8::1]>", 0, "x", "[IPv6:2001:db8::1]", "",
	    "x@[IPv6:2001:db8::1]" },
	{ "<x@[ipv6:2001:DB8::A]>", 0, "x", "[IPv6:2001:db8::a]", "",
	    "x@[IPv6:2001:db8::a]" },
	{ "<@relay.example,@other.example:user@example.org>", 0, "user",
	    "example.org", "", "user@example.org" },
	{ "<@relay.example:user@example.org>", 0, "user", "example.org", "",
	    "user@example.org" },
	{ "user@example.org", ADDR_ALLOW_NOBRACKET, "user", "example.org",
	    "", "user@example.org" },
	{ "user@example.org SIZE=5", ADDR_ALLOW_NOBRACKET, "user",
	    "example.org", "SIZE=5", "user@example.org" },
	{ "<user@localhost>", 0, "user", "localhost", "",
	    "user@localhost" },
	{ "<u@1-2.x9.example>", 0, "u", "1-2.x9.example", "",
	    "u@1-2.x9.example" },
	{ "<j\xc3\xb6rg@\xc3\xa9xample.org>", ADDR_ALLOW_UTF8, "j\xc3\xb6rg",
	    "\xc3\xa9xample.org", "", "j\xc3\xb6rg@\xc3\xa9xample.org" },
	{ "<\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\x9b\xbd>",
	    ADDR_ALLOW_UTF8, "\xe7\x94\xa8\xe6\x88\xb7",
	    "\xe4\xbe\x8b\xe5\xad\x90.\xe5\x9b\xbd", "",
	    "\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\x9b\xbd" },
	{ "<\xf0\x9f\x98\x80@x.org>", ADDR_ALLOW_UTF8, "\xf0\x9f\x98\x80",
	    "x.org", "", "\xf0\x9f\x98\x80@x.org" },
	{ "<\"\xc3\xb6 x\"@x.org>", ADDR_ALLOW_UTF8, "\xc3\xb6 x", "x.org",
	    "", "\"\xc3\xb6 x\"@x.org" },
};

struct bad {
	const char	*in;
	int		 flags;
};

static const struct bad bad_paths[] = {
	{ "", 0 },
	{ "<>", 0 },				/* null not allowed */
	{ "<", ADDR_ALLOW_NULL },
	{ ">", ADDR_ALLOW_NULL },
	{ "user@example.org", 0 },		/* no brackets */
	{ "<user@example.org", 0 },
	{ "user@example.org>", ADDR_ALLOW_NOBRACKET },
	{ "<<user@example.org>>", 0 },
	{ "<user@example.org>x", 0 },
	{ "<user@example.org>>", 0 },
	{ "<user>", 0 },
	{ "<@example.org>", 0 },
	{ "<user@>", 0 },
	{ "<user@@example.org>", 0 },
	{ "<us er@example.org>", 0 },
	{ "<user@exa mple.org>", 0 },
	{ "<user@example.org >", 0 },
	{ "< user@example.org>", 0 },
	{ "<us\ter@example.org>", 0 },
	{ "<us\x01r@example.org>", 0 },
	{ "<user@exam\x7fple.org>", 0 },
	{ "<.user@example.org>", 0 },
	{ "<user.@example.org>", 0 },
	{ "<us..er@example.org>", 0 },
	{ "<user@.example.org>", 0 },
	{ "<user@example.org.>", 0 },
	{ "<user@example..org>", 0 },
	{ "<user@-example.org>", 0 },
	{ "<user@example-.org>", 0 },
	{ "<user@exa_mple.org>", 0 },
	{ "<us(er@example.org>", 0 },
	{ "<us,er@example.org>", 0 },
	{ "<us[er@example.org>", 0 },
	{ "<\"unterminated@example.org>", 0 },
	{ "<\"a\"b@example.org>", 0 },
	{ "<\"a\x01\"@example.org>", 0 },
	{ "<\"a\\\x01\"@example.org>", 0 },
	{ "<user@[192.0.2.1>", 0 },
	{ "<user@[192.0.2.256]>", 0 },
	{ "<user@[192.0.2]>", 0 },
	{ "<user@[]>", 0 },
	{ "<user@[IPv6:2001:db8::g]>", 0 },
	{ "<user@[IPv6:192.0.2.1:]>", 0 },
	{ "<user@[x-tag:foo]>", 0 },
	{ "<user@[192.0.2.1]x>", 0 },
	{ "<@relay.example,user@example.org>", 0 },
	{ "<@relay.example:>", 0 },
	{ "<@:user@example.org>", 0 },
	{ "<@relay..example:user@example.org>", 0 },
	/* UTF-8 without SMTPUTF8, and ill-formed UTF-8 with it. */
	{ "<j\xc3\xb6rg@example.org>", 0 },
	{ "<user@\xc3\xa9xample.org>", 0 },
	{ "<\"\xc3\xb6\"@example.org>", 0 },
	/* truncated, overlong, overlong, surrogate, past U+10FFFF */
	{ "<j\xc3rg@example.org>", ADDR_ALLOW_UTF8 },
	{ "<j\xc0\xafrg@example.org>", ADDR_ALLOW_UTF8 },
	{ "<j\xe0\x80\xafrg@example.org>", ADDR_ALLOW_UTF8 },
	{ "<j\xed\xa0\x80rg@example.org>", ADDR_ALLOW_UTF8 },
	{ "<j\xf4\x90\x80\x80rg@example.org>", ADDR_ALLOW_UTF8 },
	{ "<j\xffrg@example.org>", ADDR_ALLOW_UTF8 },
	{ "<j\x80rg@example.org>", ADDR_ALLOW_UTF8 },
	{ "<user@ex\xc3\xa9.org>", ADDR_ALLOW_NULL },
};

static void
test_good(void)
{
	struct mailaddr	 a;
	const char	*rest;
	char		 buf[512];
	size_t		 i;

	for (i = 0; i < sizeof(good_paths) / sizeof(good_paths[0]); i++) {
		const struct good *g = &good_paths[i];

		rest = NULL;
		CHECKF(addr_parse_path(g->in, &a, g->flags, &rest) == 0,
		    "%s", g->in);
		CHECKF(strcmp(a.local, g->local) == 0, "%s: local %s",
		    g->in, a.local);
		CHECKF(strcmp(a.domain, g->domain) == 0, "%s: domain %s",
		    g->in, a.domain);
		CHECKF(rest != NULL && strcmp(rest, g->rest) == 0,
		    "%s: rest %s", g->in, rest ? rest : "(null)");
		addr_format(&a, buf, sizeof(buf));
		CHECKF(strcmp(buf, g->formatted) == 0, "%s: formatted %s",
		    g->in, buf);
		CHECKF(addr_is_null(&a) == (*g->local == '\0' &&
		    *g->domain == '\0'), "%s", g->in);
	}
}

static void
test_bad(void)
{
	struct mailaddr	 a;
	const char	*rest;
	size_t		 i;

	for (i = 0; i < sizeof(bad_paths) / sizeof(bad_paths[0]); i++) {
		const struct bad *b = &bad_paths[i];

		CHECKF(addr_parse_path(b->in, &a, b->flags, &rest) == -1,
		    "accepted: %s", b->in);
		/* Never a half-filled address after a failure. */
		CHECKF(addr_is_null(&a), "%s", b->in);
	}
}

static void
test_lengths(void)
{
	struct mailaddr	 a;
	char		 in[1024], local[128], domain[512], label[80];
	const char	*rest;

	/* Local part: 64 octets yes, 65 no. */
	memset(local, 'l', 64);
	local[64] = '\0';
	snprintf(in, sizeof(in), "<%s@example.org>", local);
	CHECK(addr_parse_path(in, &a, 0, &rest) == 0);
	CHECK(strlen(a.local) == 64);
	local[64] = 'l';
	local[65] = '\0';
	snprintf(in, sizeof(in), "<%s@example.org>", local);
	CHECK(addr_parse_path(in, &a, 0, &rest) == -1);
	/* The same through a quoted string. */
	snprintf(in, sizeof(in), "<\"%s\"@example.org>", local);
	CHECK(addr_parse_path(in, &a, 0, &rest) == -1);

	/* A label of 63 octets yes, 64 no. */
	memset(label, 'a', 63);
	label[63] = '\0';
	snprintf(in, sizeof(in), "<u@%s.org>", label);
	CHECK(addr_parse_path(in, &a, 0, &rest) == 0);
	label[63] = 'a';
	label[64] = '\0';
	snprintf(in, sizeof(in), "<u@%s.org>", label);
	CHECK(addr_parse_path(in, &a, 0, &rest) == -1);

	/* The whole mailbox: 254 octets yes (path of 256), 255 no. */
	memset(domain, 0, sizeof(domain));
	memset(label, 'b', 60);
	label[60] = '\0';
	snprintf(domain, sizeof(domain), "%s.%s.%s.%s", label, label, label,
	    label);			/* 243 octets */
	snprintf(in, sizeof(in), "<1234567890@%s>", domain);
	CHECK(addr_parse_path(in, &a, 0, &rest) == 0);
	CHECK(strlen(in) == 256);
	snprintf(in, sizeof(in), "<12345678901@%s>", domain);
	CHECK(addr_parse_path(in, &a, 0, &rest) == -1);

	/* A domain over 255 octets. */
	snprintf(domain, sizeof(domain), "%s.%s.%s.%s.%s", label, label,
	    label, label, label);
	snprintf(in, sizeof(in), "<u@%s>", domain);
	CHECK(addr_parse_path(in, &a, 0, &rest) == -1);
	CHECK(addr_parse(in + 1, &a, 0) == -1);
}

static void
test_bare(void)
{
	struct mailaddr	 a;
	char		 buf[ADDR_LOCAL_MAX + ADDR_DOMAIN_MAX + 8];
	char		 s[] = "Foo.Bar@Example.ORG";

	CHECK(addr_parse("User@Example.Org", &a, 0) == 0);
	CHECK(strcmp(a.local, "User") == 0);
	CHECK(strcmp(a.domain, "example.org") == 0);
	CHECK(addr_parse("\"a b\"@x.org", &a, 0) == 0);
	CHECK(strcmp(a.local, "a b") == 0);
	CHECK(addr_parse("", &a, ADDR_ALLOW_NULL) == 0 && addr_is_null(&a));
	CHECK(addr_parse("", &a, 0) == -1);
	CHECK(addr_parse("<u@x.org>", &a, 0) == -1);
	CHECK(addr_parse("u@x.org ", &a, 0) == -1);
	CHECK(addr_parse("u@x.org\n", &a, 0) == -1);
	CHECK(addr_parse("u@x.org SIZE=1", &a, 0) == -1);
	CHECK(addr_parse("u", &a, 0) == -1);
	CHECK(addr_parse("j\xc3\xb6rg@x.org", &a, 0) == -1);
	CHECK(addr_parse("j\xc3\xb6rg@x.org", &a, ADDR_ALLOW_UTF8) == 0);

	/* A small buffer truncates and stays terminated. */
	CHECK(addr_parse("user@example.org", &a, 0) == 0);
	addr_format(&a, buf, 5);
	CHECK(strcmp(buf, "user") == 0);
	CHECK(addr_parse("\"a b\"@example.org", &a, 0) == 0);
	addr_format(&a, buf, 5);
	CHECK(strlen(buf) == 4);

	addr_lower(s);
	CHECK(strcmp(s, "foo.bar@example.org") == 0);
}

int
main(void)
{
	test_good();
	test_bad();
	test_lengths();
	test_bare();
	return unit_done("test_addr");
}
