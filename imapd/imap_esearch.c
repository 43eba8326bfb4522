/*
 * ESEARCH (RFC 4731) and SEARCHRES (RFC 5182): SEARCH RETURN (MIN MAX
 * ALL COUNT SAVE) answers one "* ESEARCH" line, and SAVE keeps the
 * result for "$" in later commands.  The saved result is kept as UIDs,
 * so that it names the same messages after expunges (RFC 5182 2.1:
 * expunged ones drop out); a new mailbox, or a SEARCH that failed,
 * empties it.
 */

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "imapd.h"

void
imap_saved_clear(struct mail_session *s)
{
	free(s->saved);
	s->saved = NULL;
	s->nsaved = 0;
}

/* Whether uid is in the saved result ("$"). */
int
imap_saved_has(const struct mail_session *s, uint32_t uid)
{
	return imap_uid_pos(s->saved, s->nsaved, uid) != 0;
}

/* The saved messages still in the view, ascending: malloc'd uids. */
void
imap_saved_uids(struct mail_session *s, uint32_t **out, size_t *n)
{
	size_t	 i, k = 0;

	if ((*out = reallocarray(NULL, s->nsaved + 1, sizeof(**out))) ==
	    NULL)
		fatal("%s", __func__);
	for (i = 0; i < s->nsaved; i++)
		if (imap_seq_of(s, s->saved[i]) != 0)
			(*out)[k++] = s->saved[i];
	*n = k;
}

/* Keep uids (ascending) as the saved result. */
void
imap_saved_store(struct mail_session *s, const uint32_t *uids, size_t n)
{
	imap_saved_clear(s);
	if ((s->saved = reallocarray(NULL, n + 1, sizeof(*uids))) == NULL)
		fatal("%s", __func__);
	memcpy(s->saved, uids, n * sizeof(*uids));
	s->nsaved = n;
}

/* A result as a compact set, of UIDs or of sequence numbers. */
static void
esearch_write_all(struct mail_session *s, int uid, const uint32_t *uids,
    size_t n)
{
	uint32_t	*v;
	size_t		 i;

	if (uid) {
		imap_write_uidset(s->io.out, uids, n);
		return;
	}
	if ((v = reallocarray(NULL, n + 1, sizeof(*v))) == NULL)
		fatal("%s", __func__);
	for (i = 0; i < n; i++)
		v[i] = imap_seq_of(s, uids[i]);
	imap_write_uidset(s->io.out, v, n);
	free(v);
}

/*
 * The reply of SEARCH RETURN (...) for the matching uids (ascending);
 * modseq > 0: the highest modseq of the matches (RFC 7162 3.1.5).
 */
void
imap_esearch_reply(struct mail_session *s, struct imap_cmd *cmd,
    const uint32_t *uids, size_t n, uint64_t modseq)
{
	unsigned int	 ret = cmd->u.search.ret;
	uint32_t	 lo, hi;

	if (ret == 0)
		ret = SRET_ALL;		/* RETURN (): ALL (RFC 4731 3.1) */
	/* SAVE with MIN and/or MAX only: just those (RFC 5182 2.4). */
	if ((ret & SRET_SAVE) && n > 0 && (ret & (SRET_MIN | SRET_MAX)) &&
	    !(ret & (SRET_ALL | SRET_COUNT))) {
		uint32_t	 mm[2];
		size_t		 k = 0;

		if (ret & SRET_MIN)
			mm[k++] = uids[0];
		if ((ret & SRET_MAX) && (k == 0 || uids[n - 1] != mm[0]))
			mm[k++] = uids[n - 1];
		imap_saved_store(s, mm, k);
	} else if (ret & SRET_SAVE)
		imap_saved_store(s, uids, n);
	/* SAVE alone: the result is kept, not sent (RFC 5182 2.4). */
	if ((ret & ~SRET_SAVE) == 0)
		return;
	fputs("* ESEARCH (TAG ", s->io.out);
	imap_quoted(s->io.out, cmd->tag, strlen(cmd->tag));
	fputc(')', s->io.out);
	if (cmd->uid)
		fputs(" UID", s->io.out);
	lo = n > 0 ? (cmd->uid ? uids[0] : imap_seq_of(s, uids[0])) : 0;
	hi = n > 0 ? (cmd->uid ? uids[n - 1] :
	    imap_seq_of(s, uids[n - 1])) : 0;
	if ((ret & SRET_MIN) && n > 0)
		fprintf(s->io.out, " MIN %u", lo);
	if ((ret & SRET_MAX) && n > 0)
		fprintf(s->io.out, " MAX %u", hi);
	if ((ret & SRET_ALL) && n > 0) {
		fputs(" ALL ", s->io.out);
		esearch_write_all(s, cmd->uid, uids, n);
	}
	if (ret & SRET_COUNT)
		fprintf(s->io.out, " COUNT %zu", n);
	if (modseq > 0 && n > 0)
		fprintf(s->io.out, " MODSEQ %llu", (unsigned long long)modseq);
	fputs("\r\n", s->io.out);
}
