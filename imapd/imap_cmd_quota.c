/*
 * QUOTA (RFC 9208): GETQUOTAROOT, GETQUOTA and SETQUOTA.  A user has
 * one quota root, "", over INBOX and every folder, as Dovecot's
 * Maildir++ quota counts.  The figures are those of the maildirsize
 * file (mail_quota.c): usage is the sum of its lines, the limit the
 * user's quota from authd (the users table or the config) else the
 * file's own limit line.  STORAGE goes out in KiB as the RFC says,
 * MESSAGE only when a message limit is set.  SETQUOTA is always
 * refused: the limit is the administrator's, not the user's.
 */

#include <sys/types.h>

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "maildir.h"
#include "imapd.h"

#define QUOTA_ROOT	""

/* KiB, rounded up as Dovecot does: a few bytes used never show as 0. */
static unsigned long long
quota_kib(int64_t bytes)
{
	if (bytes <= 0)
		return 0;
	return ((unsigned long long)bytes + 1023) / 1024;
}

/* The user's limits and usage: 1 with a quota root, 0 without one. */
static int
quota_root(struct mail_session *s, struct maildir_quota *q)
{
	if (mail_quota_get(s, q) == -1)
		return 0;
	return q->max_bytes > 0 || q->max_count > 0;
}

static void
quota_reply(struct mail_session *s, const struct maildir_quota *q)
{
	int	 sp = 0;

	fputs("* QUOTA ", s->io.out);
	imap_quoted(s->io.out, QUOTA_ROOT, strlen(QUOTA_ROOT));
	fputs(" (", s->io.out);
	if (q->max_bytes > 0) {
		fprintf(s->io.out, "STORAGE %llu %llu", quota_kib(q->bytes),
		    quota_kib(q->max_bytes));
		sp = 1;
	}
	if (q->max_count > 0)
		fprintf(s->io.out, "%sMESSAGE %lld %lld", sp ? " " : "",
		    (long long)(q->count < 0 ? 0 : q->count),
		    (long long)q->max_count);
	fputs(")\r\n", s->io.out);
}

static void
quota_getquotaroot(struct mail_session *s, struct imap_cmd *cmd)
{
	struct maildir_quota	 q;
	struct mailbox		*mb;
	char			 name[MAILBOX_NAME_MAX];
	int			 has;

	if (imap_name_in(s, &cmd->u.mailbox, name, sizeof(name)) == -1) {
		imap_name_refused(s, cmd, "[NONEXISTENT] No such mailbox");
		return;
	}
	if (mailbox_open(s->root, name, 1, &mb) == -1) {
		imap_tagged(s, cmd, "NO", "[NONEXISTENT] No such mailbox");
		return;
	}
	mailbox_close(mb);
	has = quota_root(s, &q);
	fputs("* QUOTAROOT ", s->io.out);
	imap_name_out(s, s->io.out, name);
	if (has) {
		fputc(' ', s->io.out);
		imap_quoted(s->io.out, QUOTA_ROOT, strlen(QUOTA_ROOT));
	}
	fputs("\r\n", s->io.out);
	if (has)
		quota_reply(s, &q);
	imap_tagged(s, cmd, "OK", "GETQUOTAROOT completed");
}

static void
quota_getquota(struct mail_session *s, struct imap_cmd *cmd)
{
	struct maildir_quota	 q;

	if (!imap_str_eq(&cmd->u.quotaroot, QUOTA_ROOT) ||
	    !quota_root(s, &q)) {
		imap_tagged(s, cmd, "NO", "[NONEXISTENT] No such quota root");
		return;
	}
	quota_reply(s, &q);
	imap_tagged(s, cmd, "OK", "GETQUOTA completed");
}

void
imap_cmd_quota(struct mail_session *s, struct imap_cmd *cmd)
{
	switch (cmd->verb) {
	case IC_GETQUOTAROOT:
		quota_getquotaroot(s, cmd);
		break;
	case IC_GETQUOTA:
		quota_getquota(s, cmd);
		break;
	default:
		/* RFC 9208 4.1.3: [NOPERM] when the user may not set it. */
		imap_tagged(s, cmd, "NO", "[NOPERM] The quota is set by the "
		    "administrator");
		break;
	}
}
