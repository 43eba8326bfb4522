/*
 * ENABLE (RFC 5161): the extensions a client switches on for the rest
 * of the session.  Only those this server implements can be enabled;
 * any other name is ignored, as RFC 5161 3.1 asks, and the untagged
 * ENABLED lists what this command newly enabled.  QRESYNC implies
 * CONDSTORE (RFC 7162 3.2.3).  IMAP4rev2 (RFC 9051 6.3.1) switches a
 * session that began as IMAP4rev1 to rev2's replies: UTF-8 mailbox
 * names, no RECENT, SEARCH answered with ESEARCH.  UTF8=ACCEPT (RFC
 * 6855 3) brings UTF-8 mailbox names and APPEND's UTF8 data, which
 * IMAP4rev2 sessions may send too.  Neither implies the other's other
 * replies: each is recorded and listed on its own.  With a mailbox
 * selected ENABLE is BAD (RFC 5161 3.1: authenticated state only).
 */

#include <sys/types.h>

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "imapd.h"

static const struct {
	const char	*name;
	unsigned int	 own;		/* this extension's bit */
	unsigned int	 bits;		/* with what it implies */
} enable_names[] = {
	{ "CONDSTORE", MAIL_ENABLED_CONDSTORE, MAIL_ENABLED_CONDSTORE },
	{ "QRESYNC", MAIL_ENABLED_QRESYNC,
	    MAIL_ENABLED_QRESYNC | MAIL_ENABLED_CONDSTORE },
	{ "IMAP4rev2", MAIL_ENABLED_REV2, MAIL_ENABLED_REV2 },
	{ "UTF8=ACCEPT", MAIL_ENABLED_UTF8, MAIL_ENABLED_UTF8 },
};

/* The entry of an extension name, or -1: not one ENABLE knows. */
static int
enable_find(const struct imap_str *a)
{
	size_t	 i, len;

	for (i = 0; i < sizeof(enable_names) / sizeof(enable_names[0]);
	    i++) {
		len = strlen(enable_names[i].name);
		if (a->len == len &&
		    strncasecmp(a->s, enable_names[i].name, len) == 0 &&
		    (enable_names[i].bits & ~MAIL_ENABLE_OFFERED) == 0)
			return i;
	}
	return -1;
}

void
imap_cmd_enable(struct mail_session *s, struct imap_cmd *cmd)
{
	const struct imap_strlist	*l = &cmd->u.enable;
	unsigned int			 listed = 0, bits;
	int				 k, e;

	/* RFC 5161 3.1: the authenticated state only, nothing selected. */
	if (s->mb != NULL) {
		imap_tagged(s, cmd, "BAD", "ENABLE only when no mailbox is "
		    "selected");
		return;
	}
	fputs("* ENABLED", s->io.out);
	for (k = 0; k < l->n; k++) {
		if ((e = enable_find(&l->v[k])) == -1 ||
		    (listed & (1U << e)))
			continue;
		bits = enable_names[e].bits;
		/* Listed when this command switches it on. */
		if ((s->enabled & enable_names[e].own) == 0) {
			fprintf(s->io.out, " %s", enable_names[e].name);
			listed |= 1U << e;
		}
		s->enabled |= bits;
	}
	fputs("\r\n", s->io.out);
	imap_tagged(s, cmd, "OK", "ENABLE completed");
}
