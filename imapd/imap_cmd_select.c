/*
 * SELECT, EXAMINE, CLOSE and UNSELECT (RFC 9051 6.3.2, 6.3.3, 6.4.1,
 * 6.4.2): opening a mailbox for the session and leaving it.
 */

#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "imapd.h"

static void
select_leave(struct mail_session *s, int expunge)
{
	uint32_t	*uids;
	size_t		 i, n = 0;

	if (s->mb == NULL)
		return;
	/* CLOSE: \Deleted messages go, silently (RFC 9051 6.4.1). */
	if (expunge && !s->readonly) {
		(void)mailbox_sync(s->mb, NULL);
		if ((uids = reallocarray(NULL, s->mb->nmsg + 1,
		    sizeof(*uids))) == NULL)
			fatal("%s", __func__);
		for (i = 0; i < s->mb->nmsg; i++)
			if (s->mb->msg[i].flags.std & MAILDIR_FLAG_TRASHED)
				uids[n++] = s->mb->msg[i].uid;
		if (n > 0 && mailbox_expunge(s->mb, uids, n) == -1)
			log_warn("%s: expunge in %s", s->user, s->mb->name);
		free(uids);
	}
	imap_modseq_close(s);
	imap_saved_clear(s);
	mailbox_close(s->mb);
	s->mb = NULL;
	free(s->seq);
	s->seq = NULL;
	s->nseq = 0;
}

/*
 * IMAP4rev2's SELECT names the mailbox in a LIST (RFC 9051 6.3.2) and
 * has neither RECENT (there is no \Recent) nor [UNSEEN] (a client asks
 * SEARCH or STATUS).  The attributes may be incomplete: none are sent.
 */
static void
select_list(struct mail_session *s, const char *name)
{
	fputs("* LIST () \".\" ", s->io.out);
	imap_name_out(s, s->io.out, name);
	fputs("\r\n", s->io.out);
}

/* The mailbox's keywords, each after a space. */
static void
put_keywords(struct mail_session *s)
{
	size_t	 i;

	for (i = 0; i < KEYWORDS_MAX; i++)
		if (keywords_name(&s->mb->kw, i) != NULL)
			fprintf(s->io.out, " %s", keywords_name(&s->mb->kw, i));
}

void
imap_cmd_select(struct mail_session *s, struct imap_cmd *cmd)
{
	char		 name[MAILBOX_NAME_MAX];
	uint32_t	 unseen = 0;
	size_t		 i;
	int		 ro = cmd->verb == IC_EXAMINE, r;

	/* RFC 7162 3.2.5: QRESYNC parameters need ENABLE QRESYNC first. */
	if (cmd->u.select.qresync && !(s->enabled & MAIL_ENABLED_QRESYNC)) {
		imap_tagged(s, cmd, "BAD", "ENABLE QRESYNC first");
		return;
	}
	r = imap_name_in(s, &cmd->u.select.mailbox, name, sizeof(name));
	/* A BAD name (not UTF-8) is no SELECT: the mailbox stays. */
	if (r == -1 && errno == EILSEQ) {
		imap_name_refused(s, cmd, "");
		return;
	}
	if (s->mb != NULL) {
		select_leave(s, 0);
		fputs("* OK [CLOSED] Previous mailbox closed\r\n", s->io.out);
	}
	if (r == -1) {
		imap_tagged(s, cmd, "NO", "[NONEXISTENT] No such mailbox");
		return;
	}
	if (mailbox_open(s->root, name, ro, &s->mb) == -1) {
		s->mb = NULL;
		if (errno == ENOENT || errno == EINVAL)
			imap_tagged(s, cmd, "NO", "[NONEXISTENT] No such "
			    "mailbox");
		else {
			log_warn("%s: open %s", s->user, name);
			imap_tagged(s, cmd, "NO", "[UNAVAILABLE] Cannot open "
			    "the mailbox");
		}
		return;
	}
	if (mailbox_sync(s->mb, NULL) == -1) {
		log_warn("%s: sync %s", s->user, name);
		mailbox_close(s->mb);
		s->mb = NULL;
		imap_tagged(s, cmd, "NO", "[UNAVAILABLE] Cannot read the "
		    "mailbox");
		return;
	}
	s->readonly = ro;
	(void)imap_modseq_open(s);
	if (cmd->u.select.condstore || cmd->u.select.qresync)
		s->enabled |= MAIL_ENABLED_CONDSTORE;
	imap_seq_rebuild(s);
	for (i = 0; i < s->nseq; i++)
		if (!(s->mb->msg[i].flags.std & MAILDIR_FLAG_SEEN)) {
			unseen = i + 1;
			break;
		}
	fputs("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft", 
	    s->io.out);
	put_keywords(s);
	fputs(")\r\n", s->io.out);
	fprintf(s->io.out, "* %zu EXISTS\r\n", s->nseq);
	if (MAIL_REV2(s))
		select_list(s, name);
	else {
		fputs("* 0 RECENT\r\n", s->io.out);
		if (unseen != 0)
			fprintf(s->io.out, "* OK [UNSEEN %u] First unseen\r\n",
			    unseen);
	}
	/*
	 * The keywords the mailbox has are permanent too: Dovecot lists them
	 * here, and a client may take this list as the ones it can set.
	 */
	fputs("* OK [PERMANENTFLAGS (", s->io.out);
	if (!ro) {
		fputs("\\Answered \\Flagged \\Deleted \\Seen \\Draft",
		    s->io.out);
		put_keywords(s);
		fputs(" \\*", s->io.out);
	}
	fputs(")] Flags permitted\r\n", s->io.out);
	fprintf(s->io.out, "* OK [UIDVALIDITY %u] UIDs valid\r\n",
	    s->mb->ul.uidvalidity);
	fprintf(s->io.out, "* OK [UIDNEXT %u] Predicted next UID\r\n",
	    s->mb->ul.nextuid);
	if (s->ix != NULL)
		fprintf(s->io.out, "* OK [HIGHESTMODSEQ %llu] Highest\r\n",
		    (unsigned long long)imap_highestmodseq(s));
	else
		fputs("* OK [NOMODSEQ] No permanent modsequences\r\n",
		    s->io.out);
	if (cmd->u.select.qresync)
		imap_qresync_select(s, &cmd->u.select);
	imap_tagged(s, cmd, "OK", "[%s] %s completed", ro ? "READ-ONLY" :
	    "READ-WRITE", ro ? "EXAMINE" : "SELECT");
}

void
imap_cmd_close(struct mail_session *s, struct imap_cmd *cmd)
{
	select_leave(s, cmd->verb == IC_CLOSE);
	imap_tagged(s, cmd, "OK", "%s completed", imap_verb_name(cmd->verb));
}
