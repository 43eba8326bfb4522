/*
 * SORT and UID SORT (RFC 5256 BASE.6.4.SORT, DISPLAYFROM/DISPLAYTO of
 * RFC 5957): the messages SEARCH's evaluator selects, ordered by the
 * criteria in turn, ties in sequence order.  ARRIVAL is the internal
 * date, DATE the Date: field in UTC (the internal date without one),
 * SIZE RFC822.SIZE, SUBJECT the base subject, FROM/TO/CC the first
 * address's mailbox (local part), DISPLAYFROM/DISPLAYTO its display
 * name or else its address; strings are compared case folded
 * (i;unicode-casemap without normalization), a missing one as "".
 * SORT RETURN (ESORT, RFC 5267) is not offered and answered BAD.
 */

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "imapd.h"
#include "imap_sortkey.h"

/* qsort(3) has no argument for them: the criteria of the sort going. */
static const struct imap_sort	*sort_crit;

static int
sort_cmp_num(uint64_t a, uint64_t b)
{
	return a < b ? -1 : a > b;
}

static int
sort_cmp_key(const struct imap_msgkey *a, const struct imap_msgkey *b,
    enum imap_sort_key key)
{
	switch (key) {
	case SORT_ARRIVAL:
		return sort_cmp_num(a->idate, b->idate);
	case SORT_DATE:
		return sort_cmp_num(a->sent, b->sent);
	case SORT_SIZE:
		return sort_cmp_num(a->size, b->size);
	case SORT_SUBJECT:
		return strcmp(a->subject, b->subject);
	case SORT_FROM:
		return strcmp(a->from, b->from);
	case SORT_TO:
		return strcmp(a->to, b->to);
	case SORT_CC:
		return strcmp(a->cc, b->cc);
	case SORT_DISPLAYFROM:
		return strcmp(a->dfrom, b->dfrom);
	case SORT_DISPLAYTO:
		return strcmp(a->dto, b->dto);
	}
	return 0;
}

static int
sort_cmp(const void *va, const void *vb)
{
	const struct imap_msgkey	*a = va, *b = vb;
	int				 i, r;

	for (i = 0; i < sort_crit->ncrit; i++) {
		r = sort_cmp_key(a, b, sort_crit->crit[i].key);
		if (r != 0)
			return sort_crit->crit[i].reverse ? -r : r;
	}
	return sort_cmp_num(a->seq, b->seq);
}

void
imap_cmd_sort(struct mail_session *s, struct imap_cmd *cmd)
{
	struct imap_sort	*so = &cmd->u.sort;
	struct imap_msgkey	*keys;
	uint32_t		*uids;
	size_t			 n, i;

	if (so->search.esearch) {
		imap_tagged(s, cmd, "BAD", "SORT RETURN is not supported");
		return;
	}
	if (imap_search_select(s, cmd, &so->search, &uids, &n) == -1)
		return;
	keys = imap_msgkeys_load(s, uids, n, 0);
	free(uids);
	sort_crit = so;
	qsort(keys, n, sizeof(*keys), sort_cmp);
	sort_crit = NULL;
	fputs("* SORT", s->io.out);
	for (i = 0; i < n; i++)
		fprintf(s->io.out, " %u", cmd->uid ? keys[i].uid :
		    keys[i].seq);
	fputs("\r\n", s->io.out);
	imap_msgkeys_free(keys, n);
	imap_tagged(s, cmd, "OK", "%sSORT completed", cmd->uid ? "UID " :
	    "");
}
