/*
 * QRESYNC (RFC 7162 3.2): what a client that was away missed, told in
 * one round trip.  SELECT/EXAMINE (QRESYNC (uidvalidity modseq
 * [known-uids ...])) and UID FETCH ... (CHANGEDSINCE n VANISHED) answer
 * VANISHED (EARLIER) with the UIDs expunged since the client's modseq,
 * from the index's expunge history; where that history does not reach
 * back far enough, every UID of the client's set the mailbox no longer
 * has is reported, which RFC 7162 3.2.5.2 allows.  Once QRESYNC is on,
 * expunges reach the client as VANISHED instead of EXPUNGE.
 */

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "imapd.h"
#include "index.h"

static int
uid_cmp(const void *a, const void *b)
{
	uint32_t	 x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* A sorted UID list as a compact set, "1:3,7". */
void
imap_write_uidset(FILE *f, const uint32_t *v, size_t n)
{
	size_t	 i, j;

	for (i = 0; i < n; i = j + 1) {
		for (j = i; j + 1 < n && v[j + 1] == v[j] + 1; j++)
			;
		fprintf(f, "%s%u", i ? "," : "", v[i]);
		if (j > i)
			fprintf(f, ":%u", v[j]);
	}
}

/* Append uid to a growing array. */
static void
uid_push(uint32_t **v, size_t *n, size_t *cap, uint32_t uid)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		if ((*v = reallocarray(*v, *cap, sizeof(**v))) == NULL)
			fatal("%s", __func__);
	}
	(*v)[(*n)++] = uid;
}

/*
 * The UIDs of set (all UIDs below UIDNEXT if set is NULL or empty)
 * expunged since modseq: a sorted malloc'd array.
 */
static void
vanished_since(struct mail_session *s, uint64_t modseq,
    const struct imap_seqset *set, uint32_t **out, size_t *nout)
{
	uint32_t	*h = NULL, *v = NULL, top, u;
	size_t		 nh = 0, n = 0, cap = 0, i;
	int		 complete = 0, all = set == NULL || set->n == 0;

	top = s->mb->ul.nextuid > 0 ? s->mb->ul.nextuid - 1 : 0;
	if (s->ix != NULL && index_vanished_since(s->ix, modseq, &h, &nh,
	    &complete) == -1)
		fatal("%s", __func__);
	if (s->ix != NULL && complete) {
		for (i = 0; i < nh; i++)
			if (all || imap_seqset_contains(set, h[i], top))
				if (mailbox_find(s->mb, h[i]) == NULL)
					uid_push(&v, &n, &cap, h[i]);
	} else {
		/* No history that far back: each UID of the set gone. */
		for (u = 1; u <= top && u != 0; u++)
			if ((all || imap_seqset_contains(set, u, top)) &&
			    mailbox_find(s->mb, u) == NULL)
				uid_push(&v, &n, &cap, u);
	}
	free(h);
	if (n > 1)
		qsort(v, n, sizeof(*v), uid_cmp);
	*out = v;
	*nout = n;
}

/* "* VANISHED (EARLIER) set" for what went since modseq. */
void
imap_vanished_earlier(struct mail_session *s, uint64_t modseq,
    const struct imap_seqset *set)
{
	uint32_t	*v;
	size_t		 n, i, k;

	vanished_since(s, modseq, set, &v, &n);
	/* Without duplicates (a set may name a UID twice). */
	for (i = k = 0; i < n; i++)
		if (k == 0 || v[k - 1] != v[i])
			v[k++] = v[i];
	if (k > 0) {
		fputs("* VANISHED (EARLIER) ", s->io.out);
		imap_write_uidset(s->io.out, v, k);
		fputs("\r\n", s->io.out);
	}
	free(v);
}

/*
 * SELECT (QRESYNC (...)) after the usual responses, when the client's
 * UIDVALIDITY is still right: what vanished, then what changed.
 */
void
imap_qresync_select(struct mail_session *s, const struct imap_select *sel)
{
	size_t	 i;
	uint32_t top;

	if (sel->uidvalidity != s->mb->ul.uidvalidity)
		return;
	imap_vanished_earlier(s, sel->modseq, &sel->known_uids);
	top = s->nseq > 0 ? s->seq[s->nseq - 1] : 0;
	for (i = 0; i < s->nseq; i++) {
		if (imap_modseq_of(s, s->seq[i]) <= sel->modseq)
			continue;
		if (sel->known_uids.n > 0 &&
		    !imap_seqset_contains(&sel->known_uids, s->seq[i], top))
			continue;
		fprintf(s->io.out, "* %zu FETCH (UID %u ", i + 1, s->seq[i]);
		imap_write_flags(s, s->io.out, s->seq[i]);
		fputc(' ', s->io.out);
		imap_write_modseq(s, s->io.out, s->seq[i]);
		fputs(")\r\n", s->io.out);
	}
}

/* Expunges as "* VANISHED uids" (RFC 7162 3.2.10), the view updated. */
void
imap_report_vanished(struct mail_session *s)
{
	uint32_t	*v;
	size_t		 i, k = 0, n = 0;

	if ((v = reallocarray(NULL, s->nseq + 1, sizeof(*v))) == NULL)
		fatal("%s", __func__);
	for (i = 0; i < s->nseq; i++) {
		if (mailbox_find(s->mb, s->seq[i]) == NULL)
			v[n++] = s->seq[i];
		else
			s->seq[k++] = s->seq[i];
	}
	s->nseq = k;
	if (n > 0) {
		fputs("* VANISHED ", s->io.out);
		imap_write_uidset(s->io.out, v, n);
		fputs("\r\n", s->io.out);
	}
	free(v);
}
