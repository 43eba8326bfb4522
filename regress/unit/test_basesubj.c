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
	CHECK(base_is("Hello", "hello", 0));
	CHECK(base_is("", "", 0));
	CHECK(base_is("   ", "", 0));
	CHECK(base_is("Re: Hello", "hello", 1));
	CHECK(base_is("RE: re: Re:Hello", "hello", 1));
	CHECK(base_is("Fwd: Hello", "hello", 1));
	CHECK(base_is("Fw: Hello", "hello", 1));
	CHECK(base_is("fwd:hello", "hello", 1));
	/* The blob inside the leader, and list tags before it. */
	CHECK(base_is("Re[2]: Hello", "hello", 1));
	CHECK(base_is("Re [2] : Hello", "hello", 1));
	CHECK(base_is("[list] Re: Hello", "hello", 1));
	CHECK(base_is("[a][b] Re: [c] Fwd: Hello", "hello", 1));
	/* A blob alone goes (step 4), not when nothing would be left. */
	CHECK(base_is("[list] Hello", "hello", 0));
	CHECK(base_is("[list]", "[list]", 0));
	CHECK(base_is("[list]   ", "[list]", 0));
	CHECK(base_is("Re: [list]", "[list]", 1));
	CHECK(base_is("[a] [b] x", "x", 0));
	/* Trailers. */
	CHECK(base_is("Hello (fwd)", "hello", 1));
	CHECK(base_is("Hello (fwd) (FWD)  ", "hello", 1));
	CHECK(base_is("Hello(fwd)", "hello", 1));
	CHECK(base_is("Hello (fwd) x", "hello (fwd) x", 0));
	/* [fwd: ...] and what is inside it, again from step 2. */
	CHECK(base_is("[Fwd: Re: Hello]", "hello", 1));
	CHECK(base_is("[fwd: Hello (fwd)]", "hello", 1));
	CHECK(base_is("[fwd: x] y", "y", 0));
	CHECK(base_is("[fwd:]", "", 1));
	/* Not leaders. */
	CHECK(base_is("Rex: Hello", "rex: hello", 0));
	CHECK(base_is("Re Hello", "re hello", 0));
	CHECK(base_is("Reply: x", "reply: x", 0));
	CHECK(base_is("Fwdx: y", "fwdx: y", 0));
	/* Blanks: tabs and folds are one space, runs of them too. */
	CHECK(base_is("Hello\t  world", "hello world", 0));
	CHECK(base_is("Re:\r\n\tHello  \r\n world  ", "hello world", 1));
	/* RFC 2047, case folded past ASCII. */
	CHECK(base_is("=?UTF-8?Q?Re=3A_=C3=84pfel?=", "\xc3\xa4pfel", 1));
	CHECK(base_is("=?ISO-8859-1?Q?Caf=E9?= =?UTF-8?B?Q0FGw4k=?=",
	    "caf\xc3\xa9" "caf\xc3\xa9", 0));
	CHECK(base_is("Re: =?utf-8?q?=5Blist=5D_x?=", "x", 1));

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
	return unit_done("test_basesubj");
}
