/*
 * test_mime_decode: quoted-printable, base64, RFC 2047 encoded-words
 * into UTF-8 from the charsets mail uses, and the case-insensitive
 * UTF-8 substring test of SEARCH (imapd/mime_decode.c).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "../../imapd/mime.h"

static int
qp_is(const char *in, int header, const char *want)
{
	char	 out[256];
	size_t	 n;

	if (mime_decode_qp(in, strlen(in), out, &n, header) == -1)
		return 0;
	return n == strlen(want) && memcmp(out, want, n) == 0;
}

static int
b64_is(const char *in, const char *want)
{
	char	 out[256];
	size_t	 n;

	if (mime_decode_base64(in, strlen(in), out, &n) == -1)
		return want == NULL;
	return want != NULL && n == strlen(want) && memcmp(out, want, n) == 0;
}

static int
hdr_is(const char *in, const char *want)
{
	char	*out;
	int	 ok;

	if ((out = mime_decode_header(in, strlen(in))) == NULL)
		return 0;
	ok = strcmp(out, want) == 0;
	if (!ok)
		fprintf(stderr, "  decoded %s as %s\n", in, out);
	free(out);
	return ok;
}

static int
has(const char *hay, const char *needle)
{
	return mime_utf8_contains(hay, strlen(hay), needle, strlen(needle));
}

int
main(void)
{
	char	*s;

	CHECK(qp_is("a=3Db=3d", 0, "a=b="));
	CHECK(qp_is("ab=\ncd=\r\nef", 0, "abcdef"));
	CHECK(qp_is("ab= \t\ncd", 0, "abcd"));
	CHECK(qp_is("trailing  \nnext\t\r\nend ", 0, "trailing\nnext\r\nend"));
	CHECK(qp_is("in  the middle", 0, "in  the middle"));
	CHECK(qp_is("=ZZ=4", 0, "=ZZ=4"));
	CHECK(qp_is("Caf=E9", 0, "Caf\xe9"));
	CHECK(qp_is("a_b=5F", 1, "a b_"));
	CHECK(qp_is("a_b", 0, "a_b"));

	CHECK(b64_is("SGVsbG8=", "Hello"));
	CHECK(b64_is("SGVs\r\nbG8g\r\nV29y bGQ=", "Hello World"));
	CHECK(b64_is("", ""));
	CHECK(b64_is("SGVsbG8", "Hello"));	/* no padding */
	CHECK(b64_is("SGVsb", NULL));		/* a lone digit */
	CHECK(b64_is("SGVs!bG8=", "Hello"));

	CHECK(hdr_is("=?UTF-8?Q?Gr=C3=BC=C3=9Fe?= aus Berlin",
	    "Gr\xc3\xbc\xc3\x9f" "e aus Berlin"));
	CHECK(hdr_is("=?utf-8?q?a?= =?utf-8?q?b?=  \t=?utf-8?b?Yw==?= d",
	    "abc d"));
	CHECK(hdr_is("=?ISO-8859-1?B?Q2Fm6Q==?=", "Caf\xc3\xa9"));
	CHECK(hdr_is("=?iso-8859-15?q?=A4?=", "\xe2\x82\xac"));
	CHECK(hdr_is("=?windows-1252?q?=80_5?=", "\xe2\x82\xac 5"));
	CHECK(hdr_is("=?iso-8859-2?q?=B1?=", "\xc4\x85"));
	CHECK(hdr_is("=?us-ascii*en?q?plain?=", "plain"));
	CHECK(hdr_is("=?x-unknown?q?abc?= x", "=?x-unknown?q?abc?= x"));
	CHECK(hdr_is("=?utf-8?x?abc?=", "=?utf-8?x?abc?="));
	CHECK(hdr_is("=?utf-8?q?unterminated", "=?utf-8?q?unterminated"));
	CHECK(hdr_is("a\r\n b", "a b"));
	CHECK(hdr_is("x =?utf-8?q?y?= z", "x y z"));
	/* A byte the charset has no character for. */
	CHECK(hdr_is("=?utf-8?q?ok?=", "ok"));
	s = mime_to_utf8("us-ascii", "abc", 3);
	CHECK(s != NULL && strcmp(s, "abc") == 0);
	free(s);
	s = mime_to_utf8("iso-8859-1", "\xe9t\xe9", 3);
	CHECK(s != NULL && strcmp(s, "\xc3\xa9t\xc3\xa9") == 0);
	free(s);
	s = mime_to_utf8("iso-8859-6", "a\xa1" "b", 3);
	CHECK(s != NULL && strcmp(s, "a\xef\xbf\xbd" "b") == 0);
	free(s);
	CHECK(mime_to_utf8("no-such-charset", "a", 1) == NULL);

	CHECK(has("Hello World", "WORLD") == 1);
	CHECK(has("Hello World", "worlds") == 0);
	CHECK(has("Gr\xc3\x9c\xc3\x9f" "E", "gr\xc3\xbc\xc3\x9f" "e") == 1);
	CHECK(has("\xc3\x9cNICODE", "\xc3\xbcnicode") == 1);
	/* Greek, with the final sigma folding to sigma. */
	CHECK(has("\xce\xa3\xce\x8a\xce\xa3\xce\xa5\xce\xa6\xce\x9f\xce\xa3",
	    "\xcf\x83\xce\xaf\xcf\x83\xcf\x85\xcf\x86\xce\xbf\xcf\x82") == 1);
	/* Cyrillic. */
	CHECK(has("\xd0\x9f\xd0\xa0\xd0\x98\xd0\x92\xd0\x95\xd0\xa2 x",
	    "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82") == 1);
	/* Simple folding: sharp s is not "ss". */
	CHECK(has("Stra\xc3\x9f" "e", "STRASSE") == 0);
	CHECK(has("abc", "") == 1);
	CHECK(has("", "a") == 0);
	/* Bytes that are not UTF-8 still match themselves. */
	CHECK(has("caf\xe9 noir", "CAF\xe9") == 1);
	return unit_done("test_mime_decode");
}
