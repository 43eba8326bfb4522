/*
 * test_fetch_binary: what FETCH BINARY[part] sends (imapd/
 * imap_fetch_binary.c): base64 and quoted-printable undone, identity
 * encodings passed, LF-stored text with CRLF, a message stored as sent
 * (first line ending in CRLF) byte for byte, composite parts undecoded
 * whatever they claim, unknown encodings refused, missing parts told.
 */

#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "../../imapd/imapd.h"
#include "../../imapd/mime.h"

static const struct mime_limits	 mlim = { MIME_DEPTH_MAX, MIME_PARTS_MAX };

/* BINARY of part (npart numbers) of msg equals want (wlen): 1 or 0. */
static int
binary_is(const char *msg, size_t len, const uint32_t *part, int npart,
    const char *want, size_t wlen)
{
	struct mime_msg	*mm;
	char		*out;
	size_t		 outlen;
	int		 ok;

	if ((mm = mime_parse(msg, len, &mlim)) == NULL)
		return 0;
	ok = imap_binary_section(mm, part, npart, &out, &outlen) == 0 &&
	    outlen == wlen && memcmp(out, want, wlen) == 0;
	free(out);
	mime_free(mm);
	return ok;
}

static int
binary_result(const char *msg, const uint32_t *part, int npart)
{
	struct mime_msg	*mm;
	char		*out;
	size_t		 outlen;
	int		 r;

	if ((mm = mime_parse(msg, strlen(msg), &mlim)) == NULL)
		return -9;
	r = imap_binary_section(mm, part, npart, &out, &outlen);
	if (r != 0 && out != NULL)
		r = -8;		/* nothing to free on failure */
	free(out);
	mime_free(mm);
	return r;
}

#define IS(msg, part, want) binary_is((msg), strlen(msg), (part),	\
	    sizeof(part) / sizeof((part)[0]), (want), sizeof(want) - 1)

static void
test_single(void)
{
	static const uint32_t	 one[] = { 1 }, two[] = { 2 };
	static const char	 b64[] = "Subject: x\nMIME-Version: 1.0\n"
	    "Content-Transfer-Encoding:  Base64 (a comment)\n\n"
	    "AGE=\nYg==\n";
	static const char	 qp[] = "Subject: x\nMIME-Version: 1.0\n"
	    "Content-Transfer-Encoding: quoted-printable\n\n"
	    "caf=C3=A9 soft=\nbreak  \nnext=3D\n";
	static const char	 plain[] = "Subject: x\n\nline\n\0nul\n";

	/* base64 stops at the first "=": "AGE=" is all of it. */
	CHECK(IS(b64, one, "\0a"));
	CHECK(IS(qp, one, "caf\xc3\xa9 softbreak\r\nnext=\r\n"));
	CHECK(binary_is(plain, sizeof(plain) - 1, one, 1, "line\r\n\0nul\r\n",
	    12));
	/* BINARY[] is the message as BODY[] shows it, NUL kept. */
	CHECK(binary_is(plain, sizeof(plain) - 1, NULL, 0,
	    "Subject: x\r\n\r\nline\r\n\0nul\r\n", 26));
	CHECK(binary_result(b64, two, 1) == 1);
}

static void
test_stored_as_sent(void)
{
	static const uint32_t	 one[] = { 1 };
	static const char	 raw[] = "Subject: x\r\nMIME-Version: 1.0\r\n"
	    "Content-Transfer-Encoding: binary\r\n\r\n"
	    "\0bare\nLF\rCR\r\n\xff";

	CHECK(binary_is(raw, sizeof(raw) - 1, one, 1,
	    "\0bare\nLF\rCR\r\n\xff", 14));
	CHECK(binary_is(raw, sizeof(raw) - 1, NULL, 0, raw, sizeof(raw) - 1));
}

static void
test_parts(void)
{
	static const uint32_t	 p1[] = { 1 }, p2[] = { 2 }, p21[] = { 2, 1 },
				 p3[] = { 3 }, p9[] = { 9 };
	static const char	 msg[] = "MIME-Version: 1.0\n"
	    "Content-Type: multipart/mixed; boundary=b\n\n"
	    "--b\n"
	    "Content-Transfer-Encoding: x-uuencode\n\n"
	    "begin 644 x\n"
	    "--b\n"
	    "Content-Type: multipart/alternative; boundary=c\n"
	    "Content-Transfer-Encoding: base64\n\n"
	    "--c\n"
	    "Content-Transfer-Encoding: base64\n\n"
	    "aGk=\n"
	    "--c--\n"
	    "--b\n"
	    "Content-Type: message/rfc822\n\n"
	    "Subject: in\n\nbody\n"
	    "--b--\n";

	CHECK(binary_result(msg, p1, 1) == -1);
	/* A multipart is sent as BODY[2] has it, whatever it claims. */
	CHECK(IS(msg, p2, "--c\r\nContent-Transfer-Encoding: base64\r\n\r\n"
	    "aGk=\r\n--c--\r\n"));
	CHECK(IS(msg, p21, "hi"));
	CHECK(IS(msg, p3, "Subject: in\r\n\r\nbody"));
	CHECK(binary_result(msg, p9, 1) == 1);
	CHECK(binary_result(msg, p21, 2) == 0);
}

int
main(void)
{
	test_single();
	test_stored_as_sent();
	test_parts();
	return unit_done("test_fetch_binary");
}
