/*
 * APPEND (RFC 9051 6.3.12, MULTIAPPEND of RFC 3502 in one command) with
 * UIDPLUS's APPENDUID and UTF8=ACCEPT's UTF8 (~{n}) data (RFC 6855 4:
 * the message is stored as sent, its UTF-8 headers unchanged), and
 * COPY, MOVE (RFC 6851) with COPYUID: messages into another mailbox
 * through mailbox.c, which takes the uidlist lock of the target so
 * that the UIDs given back are the ones every session sees.
 */

#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "imapd.h"

/* The target of APPEND, COPY, MOVE: NULL after the NO [TRYCREATE]. */
static struct mailbox *
target_open(struct mail_session *s, struct imap_cmd *cmd,
    const struct imap_str *a)
{
	struct mailbox	*mb;
	char		 name[MAILBOX_NAME_MAX];

	if (imap_name_in(s, a, name, sizeof(name)) == -1) {
		imap_name_refused(s, cmd, "[TRYCREATE] No such mailbox");
		return NULL;
	}
	if (mailbox_open(s->root, name, 0, &mb) == -1) {
		imap_tagged(s, cmd, "NO", "[TRYCREATE] No such mailbox");
		return NULL;
	}
	if (mailbox_sync(mb, NULL) == -1) {
		log_warn("%s: sync %s", s->user, name);
		mailbox_close(mb);
		imap_tagged(s, cmd, "NO", "[UNAVAILABLE] Cannot read the "
		    "mailbox");
		return NULL;
	}
	return mb;
}

/* "1,3:5" of n uids, ascending runs kept as ranges. */
static void
uid_set(FILE *f, const uint32_t *v, size_t n)
{
	size_t	 i, j;
	int	 first = 1;

	for (i = 0; i < n; i = j) {
		if (v[i] == 0) {
			j = i + 1;
			continue;
		}
		for (j = i + 1; j < n && v[j] == v[j - 1] + 1; j++)
			;
		fprintf(f, first ? "%u" : ",%u", v[i]);
		if (j - i > 1)
			fprintf(f, ":%u", v[j - 1]);
		first = 0;
	}
}

/*
 * The message as Maildir keeps it, lines ending in LF (Dovecot's
 * mail_save_crlf = no, and what lmtpd writes): a malloc'd copy.  A
 * literal8 (RFC 3516 4.4) may be binary, where a CRLF is data: it is
 * kept as sent, and FETCH BINARY gives its bytes back unchanged.
 */
static char *
append_lf(const char *p, size_t len, int as_sent, size_t *outlen)
{
	char	*out;
	size_t	 i, o = 0;

	if ((out = malloc(len + 1)) == NULL)
		return NULL;
	for (i = 0; i < len; i++) {
		if (!as_sent && p[i] == '\r' && i + 1 < len &&
		    p[i + 1] == '\n')
			continue;
		out[o++] = p[i];
	}
	*outlen = o;
	return out;
}

/* RFC 3502: a MULTIAPPEND that fails part way stores none of it. */
static void
append_undo(struct mail_session *s, struct mailbox *mb,
    const uint32_t *uids, int n, int64_t bytes)
{
	if (n == 0)
		return;
	if (mailbox_sync(mb, NULL) == -1 ||
	    mailbox_expunge(mb, uids, n) == -1) {
		log_warn("%s: undo the append to %s", s->user, mb->name);
		return;
	}
	mail_quota_add(s, -bytes, -n);
}

void
imap_cmd_append(struct mail_session *s, struct imap_cmd *cmd)
{
	struct imap_append	*ap = &cmd->u.append;
	struct maildir_flags	 f;
	struct mailbox		*mb;
	uint32_t		*uids;
	time_t			 date;
	char			*data;
	size_t			 len;
	int64_t			 total, stored;
	int			 i, r;

	/*
	 * RFC 6855 4: UTF8 (~{n}) is for sessions that enabled it;
	 * IMAP4rev2 holds all of UTF8=ACCEPT (RFC 9755 says so), so it
	 * may use the form too.
	 */
	for (i = 0; i < ap->nmsg; i++)
		if (ap->msg[i].utf8 && !MAIL_UTF8_NAMES(s)) {
			imap_tagged(s, cmd, "BAD", "APPEND UTF8 needs ENABLE "
			    "UTF8=ACCEPT");
			return;
		}
	if ((mb = target_open(s, cmd, &ap->mailbox)) == NULL)
		return;
	for (i = 0, total = 0; i < ap->nmsg; i++)
		total += (int64_t)ap->msg[i].data.len;
	if (mail_quota_over(s, total, ap->nmsg)) {
		imap_tagged(s, cmd, "NO", "[OVERQUOTA] Quota exceeded");
		mailbox_close(mb);
		return;
	}
	/* Every message's flags first, so that none is stored for BAD. */
	for (i = 0; i < ap->nmsg; i++)
		if (ap->msg[i].has_flags && imap_flags_parse(mb,
		    &ap->msg[i].flags, &f) == -1) {
			imap_tagged(s, cmd, "BAD", "Invalid flag or keyword");
			mailbox_close(mb);
			return;
		}
	if ((uids = calloc(ap->nmsg + 1, sizeof(*uids))) == NULL)
		fatal("%s", __func__);
	for (i = 0, stored = 0; i < ap->nmsg; i++) {
		if (ap->msg[i].has_flags)
			(void)imap_flags_parse(mb, &ap->msg[i].flags, &f);
		else
			memset(&f, 0, sizeof(f));
		date = ap->msg[i].has_date ? ap->msg[i].date : time(NULL);
		if ((data = append_lf(ap->msg[i].data.s, ap->msg[i].data.len,
		    ap->msg[i].data.literal == 2, &len)) == NULL)
			fatal("%s", __func__);
		r = mailbox_append(mb, data, len, &f, date, &uids[i]);
		free(data);
		if (r == 0) {
			mail_quota_add(s, (int64_t)len, 1);
			stored += (int64_t)len;
		}
		if (r == -1) {
			log_warn("%s: append to %s", s->user, mb->name);
			append_undo(s, mb, uids, i, stored);
			imap_tagged(s, cmd, "NO", "%s", errno == EDQUOT ||
			    errno == ENOSPC ? "[OVERQUOTA] No room for the "
			    "message" : "[SERVERBUG] Cannot store the message");
			goto done;
		}
	}
	fprintf(s->io.out, "%s OK [APPENDUID %u ", cmd->tag,
	    mb->ul.uidvalidity);
	uid_set(s->io.out, uids, ap->nmsg);
	fputs("] APPEND completed\r\n", s->io.out);
 done:
	free(uids);
	mailbox_close(mb);
}

void
imap_cmd_copy(struct mail_session *s, struct imap_cmd *cmd)
{
	struct mailbox	*dst;
	uint32_t	*uids, *newuids, *src;
	size_t		 i, n, k = 0;
	int64_t		 size;
	int		 move = cmd->verb == IC_MOVE, r;

	if (move && s->readonly) {
		imap_tagged(s, cmd, "NO", "[READ-ONLY] Mailbox is read-only");
		return;
	}
	if ((dst = target_open(s, cmd, &cmd->u.copy.mailbox)) == NULL)
		return;
	if (imap_set_uids(s, &cmd->u.copy.set, cmd->uid, &uids,
	    &n) == -1) {
		imap_tagged(s, cmd, "BAD", "Invalid message number");
		mailbox_close(dst);
		return;
	}
	size = mail_quota_size(s->mb, uids, n);
	if (n > 0 && mail_quota_over(s, size, (int64_t)n)) {
		imap_tagged(s, cmd, "NO", "[OVERQUOTA] Quota exceeded");
		free(uids);
		mailbox_close(dst);
		return;
	}
	if ((newuids = calloc(n + 1, sizeof(*newuids))) == NULL ||
	    (src = calloc(n + 1, sizeof(*src))) == NULL)
		fatal("%s", __func__);
	r = n == 0 ? 0 : move ? mailbox_move(s->mb, uids, n, dst, newuids) :
	    mailbox_copy(s->mb, uids, n, dst, newuids);
	if (r == -1) {
		log_warn("%s: %s to %s", s->user, move ? "move" : "copy",
		    dst->name);
		imap_tagged(s, cmd, "NO", "[SERVERBUG] %s failed",
		    move ? "MOVE" : "COPY");
		goto done;
	}
	/* A move stays in the same quota: only copies count. */
	if (!move && n > 0)
		mail_quota_add(s, size, (int64_t)n);
	/* COPYUID names the messages that went, source and target. */
	for (i = 0; i < n; i++)
		if (newuids[i] != 0) {
			src[k] = uids[i];
			newuids[k++] = newuids[i];
		}
	if (k > 0) {
		fprintf(s->io.out, "%s%s OK [COPYUID %u ", move ? "*" :
		    cmd->tag, "", dst->ul.uidvalidity);
		uid_set(s->io.out, src, k);
		fputc(' ', s->io.out);
		uid_set(s->io.out, newuids, k);
		fprintf(s->io.out, "] %s\r\n", move ? "Moved" :
		    "COPY completed");
	}
	if (move) {
		imap_sync_report(s, 1);
		imap_tagged(s, cmd, "OK", "%sMOVE completed",
		    cmd->uid ? "UID " : "");
	} else if (k == 0)
		imap_tagged(s, cmd, "OK", "%sCOPY completed, nothing to copy",
		    cmd->uid ? "UID " : "");
 done:
	free(uids);
	free(newuids);
	free(src);
	mailbox_close(dst);
}
