/*
 * Changing messages: STORE and UID STORE (RFC 9051 6.4.6) on the flags
 * in the Maildir file names (keywords through dovecot-keywords), and
 * EXPUNGE / UID EXPUNGE (6.4.3, RFC 4315 2.1).  UNCHANGEDSINCE
 * (CONDSTORE) is not offered.
 */

#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "imapd.h"

/*
 * System flags and keywords of a flag list (STORE, APPEND) on mailbox
 * mb: 0, or -1 (a bad flag, no keyword letter left).
 */
int
imap_flags_parse(struct mailbox *mb, const struct imap_strlist *l,
    struct maildir_flags *f)
{
	static const struct {
		const char	*name;
		unsigned int	 bit;
	} std[] = {
		{ "\\Seen", MAILDIR_FLAG_SEEN },
		{ "\\Answered", MAILDIR_FLAG_REPLIED },
		{ "\\Flagged", MAILDIR_FLAG_FLAGGED },
		{ "\\Deleted", MAILDIR_FLAG_TRASHED },
		{ "\\Draft", MAILDIR_FLAG_DRAFT },
		{ "$Forwarded", MAILDIR_FLAG_PASSED },
	};
	const char	*kw[KEYWORDS_MAX];
	char		 copy[KEYWORDS_MAX][KEYWORD_LEN_MAX + 1];
	size_t		 j, nkw = 0;
	int		 i, found;

	memset(f, 0, sizeof(*f));
	for (i = 0; i < l->n; i++) {
		found = 0;
		for (j = 0; j < sizeof(std) / sizeof(std[0]); j++)
			if (imap_str_eq(&l->v[i], std[j].name)) {
				f->std |= std[j].bit;
				found = 1;
			}
		if (found || imap_str_eq(&l->v[i], "\\Recent"))
			continue;
		if (l->v[i].len == 0 || l->v[i].s[0] == '\\' ||
		    l->v[i].len > KEYWORD_LEN_MAX || nkw == KEYWORDS_MAX)
			return -1;
		memcpy(copy[nkw], l->v[i].s, l->v[i].len);
		copy[nkw][l->v[i].len] = '\0';
		if (!keywords_valid(copy[nkw]))
			return -1;
		kw[nkw] = copy[nkw];
		nkw++;
	}
	if (nkw > 0 && mailbox_keyword_bits(mb, kw, nkw, 1,
	    &f->keywords) == -1)
		return -1;
	return 0;
}

/* One stored message's untagged FETCH (RFC 7162 3.1.3 for MODSEQ). */
static void
store_report(struct mail_session *s, struct imap_cmd *cmd, uint32_t uid)
{
	int	 cs = (s->enabled & MAIL_ENABLED_CONDSTORE) != 0;

	if (cmd->u.store.silent && !cs)
		return;
	fprintf(s->io.out, "* %u FETCH (", imap_seq_of(s, uid));
	if (!cmd->u.store.silent)
		imap_write_flags(s, s->io.out, uid);
	if (cmd->uid || cs)
		fprintf(s->io.out, "%sUID %u", cmd->u.store.silent ? "" : " ",
		    uid);
	if (cs) {
		fputc(' ', s->io.out);
		imap_write_modseq(s, s->io.out, uid);
	}
	fputs(")\r\n", s->io.out);
}

/* [MODIFIED set]: the messages UNCHANGEDSINCE kept from the STORE. */
static void
store_modified(struct mail_session *s, struct imap_cmd *cmd,
    const uint32_t *mod, size_t nmod, int failed)
{
	size_t	 i;

	fprintf(s->io.out, "%s %s [MODIFIED ", cmd->tag, failed ? "NO" :
	    "OK");
	for (i = 0; i < nmod; i++)
		fprintf(s->io.out, "%s%u", i ? "," : "", cmd->uid ? mod[i] :
		    imap_seq_of(s, mod[i]));
	fprintf(s->io.out, "] Conditional %sSTORE %s\r\n",
	    cmd->uid ? "UID " : "", failed ? "partly failed" : "completed");
}

void
imap_cmd_store(struct mail_session *s, struct imap_cmd *cmd)
{
	struct imap_store	*st = &cmd->u.store;
	struct maildir_flags	 f;
	uint32_t		*uids, *mod;
	size_t			 i, n, k = 0, nmod = 0;
	int			 failed = 0;

	if (s->readonly) {
		imap_tagged(s, cmd, "NO", "[READ-ONLY] Mailbox is read-only");
		return;
	}
	if (imap_flags_parse(s->mb, &st->flags, &f) == -1) {
		imap_tagged(s, cmd, "BAD", "Invalid flag or keyword");
		return;
	}
	/* A CONDSTORE-enabling command (RFC 7162 3.1). */
	if (st->unchangedsince_set)
		s->enabled |= MAIL_ENABLED_CONDSTORE;
	imap_sync_report(s, 0);
	if (imap_set_uids(s, &st->set, cmd->uid, &uids, &n) == -1) {
		imap_tagged(s, cmd, "BAD", "Invalid message number");
		return;
	}
	if ((mod = reallocarray(NULL, n + 1, sizeof(*mod))) == NULL)
		fatal("%s", __func__);
	for (i = 0; i < n; i++) {
		if (st->unchangedsince_set &&
		    imap_modseq_of(s, uids[i]) > st->unchangedsince) {
			mod[nmod++] = uids[i];
			continue;
		}
		/* The enumerators of both headers are 0, 1, 2 alike. */
		if (mailbox_store(s->mb, uids[i],
		    (enum mailbox_store_op)st->op, &f) == -1) {
			if (errno != ENOENT)
				log_warn("%s: store uid %u", s->user, uids[i]);
			failed++;
			continue;
		}
		uids[k++] = uids[i];
	}
	/* One index update for all: the new modseqs. */
	(void)imap_modseq_sync(s);
	for (i = 0; i < k; i++)
		store_report(s, cmd, uids[i]);
	free(uids);
	if (nmod > 0)
		store_modified(s, cmd, mod, nmod, failed);
	else if (failed)
		imap_tagged(s, cmd, "NO", "[EXPUNGEISSUED] Some messages "
		    "were expunged meanwhile");
	else
		imap_tagged(s, cmd, "OK", "%sSTORE completed",
		    cmd->uid ? "UID " : "");
	free(mod);
}

void
imap_cmd_expunge(struct mail_session *s, struct imap_cmd *cmd)
{
	uint32_t	*uids, *set = NULL;
	size_t		 i, n, k = 0;

	if (s->readonly) {
		imap_tagged(s, cmd, "NO", "[READ-ONLY] Mailbox is read-only");
		return;
	}
	(void)mailbox_sync(s->mb, NULL);
	if (cmd->uid)
		imap_set_uids(s, &cmd->u.expunge, 1, &set, &n);
	else {
		n = s->nseq;
		if ((set = reallocarray(NULL, n + 1, sizeof(*set))) == NULL)
			fatal("%s", __func__);
		memcpy(set, s->seq, n * sizeof(*set));
	}
	if ((uids = reallocarray(NULL, n + 1, sizeof(*uids))) == NULL)
		fatal("%s", __func__);
	for (i = 0; i < n; i++) {
		struct mbox_msg *m = mailbox_find(s->mb, set[i]);

		if (m != NULL && (m->flags.std & MAILDIR_FLAG_TRASHED))
			uids[k++] = set[i];
	}
	free(set);
	if (k > 0 && mailbox_expunge(s->mb, uids, k) == -1) {
		log_warn("%s: expunge in %s", s->user, s->mb->name);
		free(uids);
		imap_tagged(s, cmd, "NO", "[SERVERBUG] Expunge failed");
		return;
	}
	free(uids);
	/* The EXPUNGE responses, ours and others', in one pass. */
	imap_sync_report(s, 1);
	imap_tagged(s, cmd, "OK", "%sEXPUNGE completed",
	    cmd->uid ? "UID " : "");
}
