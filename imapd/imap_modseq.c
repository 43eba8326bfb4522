/*
 * The selected mailbox's modseqs for CONDSTORE and QRESYNC (RFC 7162):
 * the session keeps the folder's tsamba.index (index.c) open beside
 * the mailbox and brings it in step after every look at the disk, so
 * that every flag change gets a new modseq, whoever made it (this
 * session, another one, or another process renaming the Maildir file).
 * The index keeps HIGHESTMODSEQ across restarts; its modseqs never go
 * back, even when it is rebuilt.
 */

#include <sys/types.h>

#include <stdio.h>

#include "log.h"
#include "imapd.h"
#include "index.h"

/* Open the index of the just-synced selected mailbox: 0, or -1. */
int
imap_modseq_open(struct mail_session *s)
{
	imap_modseq_close(s);
	if (index_open(s->mb->md, s->mb->ul.uidvalidity, &s->ix) == -1) {
		log_warn("%s: index of %s", s->user, s->mb->name);
		s->ix = NULL;
		return -1;
	}
	return imap_modseq_sync(s);
}

void
imap_modseq_close(struct mail_session *s)
{
	if (s->ix != NULL)
		index_close(s->ix);
	s->ix = NULL;
}

/* After mailbox_sync() or a change: new modseqs for what differs. */
int
imap_modseq_sync(struct mail_session *s)
{
	if (s->ix == NULL || s->mb == NULL)
		return -1;
	if (index_sync_mailbox(s->ix, s->mb) == -1) {
		log_warn("%s: index sync of %s", s->user, s->mb->name);
		return -1;
	}
	return 0;
}

/* One message whose flags this session just changed. */
void
imap_modseq_flags(struct mail_session *s, uint32_t uid)
{
	struct mbox_msg	*m;

	if (s->ix == NULL || (m = mailbox_find(s->mb, uid)) == NULL)
		return;
	if (index_set_flags(s->ix, uid, m->flags.std, m->flags.keywords) ==
	    -1)
		(void)imap_modseq_sync(s);
}

uint64_t
imap_modseq_of(const struct mail_session *s, uint32_t uid)
{
	struct index_msg	*e;

	if (s->ix == NULL || (e = index_get(s->ix, uid)) == NULL)
		return 1;	/* unknown: never "unchanged since" */
	return e->modseq;
}

uint64_t
imap_highestmodseq(const struct mail_session *s)
{
	return s->ix != NULL ? s->ix->highestmodseq : 1;
}

/* " MODSEQ (n)" in a FETCH response, when CONDSTORE is in use. */
void
imap_write_modseq(const struct mail_session *s, FILE *f, uint32_t uid)
{
	fprintf(f, "MODSEQ (%llu)",
	    (unsigned long long)imap_modseq_of(s, uid));
}

/* HIGHESTMODSEQ of a mailbox not selected (STATUS). */
int
imap_modseq_status(struct mailbox *mb, uint64_t *hms)
{
	struct mindex	*ix;
	int		 r;

	if (index_open(mb->md, mb->ul.uidvalidity, &ix) == -1)
		return -1;
	r = index_sync_mailbox(ix, mb);
	*hms = ix->highestmodseq;
	index_close(ix);
	return r;
}
