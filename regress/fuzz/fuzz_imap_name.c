/*
 * fuzz_imap_name: libFuzzer target for imapd/imap_name.c, the mailbox
 * names between the wire and the storage (UTF-8 <-> modified UTF-7 for
 * IMAP4rev2 and UTF8=ACCEPT sessions, unchanged for IMAP4rev1).  The
 * first byte picks the session's mode; the rest is read both as a name
 * a client sent and as a name found on disk.  Besides crashes it
 * checks the round trips: a name taken in comes back out the same, a
 * stored name sent out is taken back to the same directory, and the
 * quoted string written for it unquotes to the wire name.
 *
 *   make regress/fuzz/fuzz_imap_name
 *   ./regress/fuzz/fuzz_imap_name -max_total_time=60 \
 *	-dict=regress/fuzz/fuzz_imap_name.dict
 */

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imapd.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* imap_session.c's tagged reply, which imap_name.c refuses with. */
void
imap_tagged(struct mail_session *s, const struct imap_cmd *cmd,
    const char *status, const char *fmt, ...)
{
	(void)s;
	(void)cmd;
	(void)status;
	(void)fmt;
}

static int
is_inbox(const char *s, size_t n)
{
	return n == 5 && strncasecmp(s, "INBOX", 5) == 0;
}

/* A client's name in and back out. */
static void
wire_round_trip(struct mail_session *s, const char *in, size_t n)
{
	struct imap_str	 a;
	char		 st[MAILBOX_NAME_MAX], w[MAILBOX_NAME_MAX * 2];

	memset(&a, 0, sizeof(a));
	a.s = in;
	a.len = n;
	if (imap_name_in(s, &a, st, sizeof(st)) == -1) {
		if (errno == EILSEQ && (!MAIL_UTF8_NAMES(s) ||
		    imap_utf8_valid(in, n)))
			abort();
		return;
	}
	if (is_inbox(in, n)) {
		if (strcmp(st, "INBOX") != 0)
			abort();
		return;
	}
	/* Storage names of a UTF-8 session are modified UTF-7. */
	if (MAIL_UTF8_NAMES(s) &&
	    imap_utf7_decode(st, strlen(st), w, sizeof(w)) == -1)
		abort();
	if (imap_name_wire(s, st, w, sizeof(w)) == -1 ||
	    strlen(w) != n || memcmp(w, in, n) != 0)
		abort();
}

/* The quoted string of name unquotes to the wire name. */
static void
check_out(struct mail_session *s, const char *name, const char *w)
{
	char	 buf[MAILBOX_NAME_MAX * 4], un[MAILBOX_NAME_MAX * 2];
	FILE	*f;
	size_t	 len, i, o = 0;

	if ((f = fmemopen(buf, sizeof(buf), "w")) == NULL)
		abort();
	imap_name_out(s, f, name);
	len = ftell(f);
	fclose(f);
	if (len < 2 || buf[0] != '"' || buf[len - 1] != '"')
		return;		/* a literal */
	for (i = 1; i < len - 1; i++) {
		if (buf[i] == '\\')
			i++;
		else if (buf[i] == '"' || buf[i] == '\r' || buf[i] == '\n')
			abort();
		un[o++] = buf[i];
	}
	if (o != strlen(w) || memcmp(un, w, o) != 0)
		abort();
}

/* A stored name out and back in. */
static void
storage_round_trip(struct mail_session *s, const char *in, size_t n)
{
	struct imap_str	 a;
	char		 name[MAILBOX_NAME_MAX], st[MAILBOX_NAME_MAX];
	char		 w[MAILBOX_NAME_MAX * 2];

	if (n >= sizeof(name) || memchr(in, '\0', n) != NULL)
		return;
	memcpy(name, in, n);
	name[n] = '\0';
	if (imap_name_wire(s, name, w, sizeof(w)) == -1)
		return;
	check_out(s, name, w);
	/* Only a real modified UTF-7 name is promised the way back. */
	if (MAIL_UTF8_NAMES(s) &&
	    imap_utf7_decode(name, n, st, sizeof(st)) == -1)
		return;
	memset(&a, 0, sizeof(a));
	a.s = w;
	a.len = strlen(w);
	if (imap_name_in(s, &a, st, sizeof(st)) == -1) {
		if (errno == EILSEQ)
			abort();
		return;
	}
	if (!is_inbox(w, a.len) && strcmp(st, name) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mail_session	 s;
	const char		*in;
	size_t			 n;

	if (size < 1)
		return 0;
	memset(&s, 0, sizeof(s));
	s.enabled = data[0] & (MAIL_ENABLED_REV2 | MAIL_ENABLED_UTF8);
	in = (const char *)data + 1;
	n = size - 1;
	if (n > MAILBOX_NAME_MAX)
		n = MAILBOX_NAME_MAX;
	wire_round_trip(&s, in, n);
	storage_round_trip(&s, in, n);
	return 0;
}
