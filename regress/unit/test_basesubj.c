/*
 * test_basesubj: the base subject of RFC 5256 2.1 (imapd/imap_basesubj.c)
 * with its edge cases, whether it marks a reply or forward, and the
 * Date: field reader SORT DATE and SENT* use (imapd/imap_msgdate.c).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "unit.h"
#include "../../imapd/imap_sortkey.h"

/* Does raw reduce to want, with refwd as said (-1: either)? */
static int
base_is(const char *raw, const char *want, int refwd)
{
	char	*b;
	int	 rf, ok;

	if ((b = imap_basesubj(raw, strlen(raw), &rf)) == NULL)
		return 0;
	ok = strcmp(b, want) == 0 && (refwd == -1 || rf == refwd);
	if (!ok)
		fprintf(stderr, "  \"%s\" -> \"%s\" refwd %d\n", raw, b, rf);
	free(b);
	return ok;
}

static char	*mapped[8];
static int	 nmapped;

/* The casemap of s, freed at the end. */
static const char *
map(const char *s)
{
	char	*m;

	if ((m = imap_casemap(s, strlen(s))) == NULL)
		abort();
	free(mapped[nmapped % 8]);
	mapped[nmapped++ % 8] = m;
	return m;
}

static int
map_is(const char *s, const char *want)
{
	const char	*m = map(s);

	if (strcmp(m, want) != 0)
		fprintf(stderr, "  casemap \"%s\" -> \"%s\"\n", s, m);
	return strcmp(m, want) == 0;
}

static int
date_is(const char *s, time_t want, int ymd)
{
	time_t	 t;
	int	 d;

	if (imap_msgdate(s, &t, &d) == -1)
		return want == -1;
	if (t != want || d != ymd)
		fprintf(stderr, "  \"%s\" -> %lld %d\n", s, (long long)t, d);
	return t == want && d == ymd;
}

int
main(void)
{
	CHECK(base_is("Hello", "HELLO", 0));
	CHECK(base_is("", "", 0));
	CHECK(base_is("   ", "", 0));
	CHECK(base_is("Re: Hello", "HELLO", 1));
	CHECK(base_is("RE: re: Re:Hello", "HELLO", 1));
	CHECK(base_is("Fwd: Hello", "HELLO", 1));
	CHECK(base_is("Fw: Hello", "HELLO", 1));
	CHECK(base_is("fwd:hello", "HELLO", 1));
	/* The blob inside the leader, and list tags before it. */
	CHECK(base_is("Re[2]: Hello", "HELLO", 1));
	CHECK(base_is("Re [2] : Hello", "HELLO", 1));
	CHECK(base_is("[list] Re: Hello", "HELLO", 1));
	CHECK(base_is("[a][b] Re: [c] Fwd: Hello", "HELLO", 1));
	/* A blob alone goes (step 4), not when nothing would be left. */
	CHECK(base_is("[list] Hello", "HELLO", 0));
	CHECK(base_is("[list]", "[LIST]", 0));
	CHECK(base_is("[list]   ", "[LIST]", 0));
	CHECK(base_is("Re: [list]", "[LIST]", 1));
	CHECK(base_is("[a] [b] x", "X", 0));
	/* Trailers. */
	CHECK(base_is("Hello (fwd)", "HELLO", 1));
	CHECK(base_is("Hello (fwd) (FWD)  ", "HELLO", 1));
	CHECK(base_is("Hello(fwd)", "HELLO", 1));
	CHECK(base_is("Hello (fwd) x", "HELLO (FWD) X", 0));
	/* [fwd: ...] and what is inside it, again from step 2. */
	CHECK(base_is("[Fwd: Re: Hello]", "HELLO", 1));
	CHECK(base_is("[fwd: Hello (fwd)]", "HELLO", 1));
	CHECK(base_is("[fwd: x] y", "Y", 0));
	CHECK(base_is("[fwd:]", "", 1));
	/* Not leaders. */
	CHECK(base_is("Rex: Hello", "REX: HELLO", 0));
	CHECK(base_is("Re Hello", "RE HELLO", 0));
	CHECK(base_is("Reply: x", "REPLY: X", 0));
	CHECK(base_is("Fwdx: y", "FWDX: Y", 0));
	/* Blanks: tabs and folds are one space, runs of them too. */
	CHECK(base_is("Hello\t  world", "HELLO WORLD", 0));
	CHECK(base_is("Re:\r\n\tHello  \r\n world  ", "HELLO WORLD", 1));
	/* RFC 2047, case folded past ASCII. */
	CHECK(base_is("=?UTF-8?Q?Re=3A_=C3=84pfel?=", "A\xcc\x88PFEL", 1));
	CHECK(base_is("=?ISO-8859-1?Q?Caf=E9?= =?UTF-8?B?Q0FGw4k=?=",
	    "CAFE\xcc\x81" "CAFE\xcc\x81", 0));
	/* A blank that is no space in the source is one after NFKD. */
	CHECK(base_is("Re:\xc2\xa0Hello", "HELLO", 1));
	CHECK(base_is("Re: =?utf-8?q?=5Blist=5D_x?=", "X", 1));

	/* i;unicode-casemap: titlecase, then decomposed. */
	CHECK(map_is("abc", "ABC"));
	CHECK(map_is("\xc3\xa4rger", "A\xcc\x88RGER"));
	CHECK(map_is("\xc3\x84RGER", "A\xcc\x88RGER"));
	CHECK(map_is("\xc5\xbe\xc5\xbd\xc4\xb1\xc5\xbf",
	    "Z\xcc\x8cZ\xcc\x8cIS"));
	CHECK(map_is("\xc3\x9f", "\xc3\x9f"));		/* no simple titlecase */
	CHECK(map_is("\xc7\x86", "\xc7\x85"));		/* dz caron: Dz */
	CHECK(map_is("\xc7\x84\xc7\x85", "\xc7\x85\xc7\x85"));
	CHECK(map_is("\xc2\xaa", "A"));		/* mapping twice: the same */
	CHECK(map_is("\xce\xb1\xcf\x82", "\xce\x91\xce\xa3"));
	CHECK(map_is("\xd0\xb4\xd1\x91", "\xd0\x94\xd0\x81"));
	CHECK(map_is("a\xff" "b", "A\xff" "B"));		/* not UTF-8: kept */
	/* "Ärger" sorts after "alice" and before "carol", as Dovecot has it. */
	CHECK(strcmp(map("\xc3\x84rger"), map("alice")) > 0);
	CHECK(strcmp(map("\xc3\x84rger"), map("carol")) < 0);
	CHECK(strcmp(map("_x"), map("ax")) > 0);	/* capitals before _ */

	/* 1 Jan 2020 00:00:00 UTC is 1577836800. */
	CHECK(date_is("Wed, 01 Jan 2020 00:00:00 +0000", 1577836800,
	    20200101));
	CHECK(date_is("1 Jan 2020 01:30:00 +0130", 1577836800, 20200101));
	CHECK(date_is("Tue, 31 Dec 2019 19:00 -0500", 1577836800,
	    20191231));
	CHECK(date_is("31 Dec 2019 16:00:00 PST", 1577836800, 20191231));
	CHECK(date_is("1 jan 20 00:00:00 GMT", 1577836800, 20200101));
	CHECK(date_is("1 Jan 120 00:00:00 UT", 1577836800, 20200101));
	CHECK(date_is("(c) Wed (x), 1 (y) Jan 2020 00:00:00 (z) +0000",
	    1577836800, 20200101));
	CHECK(date_is("1 Jan 2020 00:00:00", 1577836800, 20200101));
	CHECK(date_is("1 January 2020 00:00:00 Z", 1577836800, 20200101));
	CHECK(date_is("Wed, 01 Jan 2020", -1, 0));
	CHECK(date_is("garbage", -1, 0));
	CHECK(date_is("", -1, 0));
	CHECK(date_is("32 Jan 2020 00:00:00 +0000", -1, 0));
	CHECK(date_is("1 Foo 2020 00:00:00 +0000", -1, 0));
	for (nmapped = 0; nmapped < 8; nmapped++)
		free(mapped[nmapped]);
	return unit_done("test_basesubj");
}
