/*
 * SORT and UID SORT (RFC 5256 BASE.6.4.SORT, DISPLAYFROM/DISPLAYTO of
 * RFC 5957): the messages SEARCH's evaluator selects, ordered by the
 * criteria in turn, ties in sequence order.  ARRIVAL is the internal
 * date, DATE the Date: field in UTC (the internal date without one),
 * SIZE RFC822.SIZE, SUBJECT the base subject, FROM/TO/CC the first
 * address's mailbox (local part), DISPLAYFROM/DISPLAYTO its display
 * name or else its address; strings are compared in i;unicode-casemap
 * form (imap_casemap.c), a missing one as "".  SORT RETURN (ESORT, RFC
 * 5267, and SAVE of RFC 5182) answers an ESEARCH line: MIN and MAX the
 * first and last in sort order, ALL the sorted list (ranges only for
 * ascending runs), COUNT; SAVE keeps the set of messages (or only MIN
 * and MAX when just those were asked for).
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

static int
sort_cmp_uid(const void *va, const void *vb)
{
	uint32_t	 a = *(const uint32_t *)va, b = *(const uint32_t *)vb;

	return a < b ? -1 : a > b;
}

/* SAVE (RFC 5182): the set, or just MIN and MAX when only they were. */
static void
esort_save(struct mail_session *s, unsigned int ret,
    const struct imap_msgkey *keys, size_t n)
{
	uint32_t	*v;
	size_t		 i, k = 0;

	if ((v = reallocarray(NULL, n + 1, sizeof(*v))) == NULL)
		fatal("%s", __func__);
	if (n > 0 && (ret & (SRET_MIN | SRET_MAX)) &&
	    !(ret & (SRET_ALL | SRET_COUNT))) {
		if (ret & SRET_MIN)
			v[k++] = keys[0].uid;
		if ((ret & SRET_MAX) && (k == 0 || keys[n - 1].uid != v[0]))
			v[k++] = keys[n - 1].uid;
	} else
		for (i = 0; i < n; i++)
			v[k++] = keys[i].uid;
	qsort(v, k, sizeof(*v), sort_cmp_uid);
	imap_saved_store(s, v, k);
	free(v);
}

static uint32_t
sort_num(const struct imap_cmd *cmd, const struct imap_msgkey *k)
{
	return cmd->uid ? k->uid : k->seq;
}

/* SORT RETURN (RFC 5267 3.2): one ESEARCH line, in sort order. */
static void
esort_reply(struct mail_session *s, struct imap_cmd *cmd,
    const struct imap_msgkey *keys, size_t n)
{
	unsigned int	 ret = cmd->u.sort.search.ret;
	FILE		*f = s->io.out;
	size_t		 i, j;

	if (ret == 0)
		ret = SRET_ALL;
	if (ret & SRET_SAVE)
		esort_save(s, ret, keys, n);
	if ((ret & ~SRET_SAVE) == 0)
		return;
	fputs("* ESEARCH (TAG ", f);
	imap_quoted(f, cmd->tag, strlen(cmd->tag));
	fputc(')', f);
	if (cmd->uid)
		fputs(" UID", f);
	if ((ret & SRET_MIN) && n > 0)
		fprintf(f, " MIN %u", sort_num(cmd, &keys[0]));
	if ((ret & SRET_MAX) && n > 0)
		fprintf(f, " MAX %u", sort_num(cmd, &keys[n - 1]));
	if ((ret & SRET_ALL) && n > 0) {
		fputs(" ALL ", f);
		for (i = 0; i < n; i = j + 1) {
			for (j = i; j + 1 < n && sort_num(cmd, &keys[j + 1]) ==
			    sort_num(cmd, &keys[j]) + 1; j++)
				;
			fprintf(f, "%s%u", i > 0 ? "," : "",
			    sort_num(cmd, &keys[i]));
			if (j > i)
				fprintf(f, ":%u", sort_num(cmd, &keys[j]));
		}
	}
	if (ret & SRET_COUNT)
		fprintf(f, " COUNT %zu", n);
	fputs("\r\n", f);
}

void
imap_cmd_sort(struct mail_session *s, struct imap_cmd *cmd)
{
	struct imap_sort	*so = &cmd->u.sort;
	struct imap_msgkey	*keys;
	uint32_t		*uids;
	size_t			 n, i;

	if (imap_search_select(s, cmd, &so->search, &uids, &n) == -1) {
		if (so->search.ret & SRET_SAVE)
			imap_saved_clear(s);	/* RFC 5182 2.1 */
		return;
	}
	keys = imap_msgkeys_load(s, uids, n, 0);
	free(uids);
	sort_crit = so;
	qsort(keys, n, sizeof(*keys), sort_cmp);
	sort_crit = NULL;
	if (so->search.esearch)
		esort_reply(s, cmd, keys, n);
	else {
		fputs("* SORT", s->io.out);
		for (i = 0; i < n; i++)
			fprintf(s->io.out, " %u", sort_num(cmd, &keys[i]));
		fputs("\r\n", s->io.out);
	}
	imap_msgkeys_free(keys, n);
	imap_tagged(s, cmd, "OK", "%sSORT completed", cmd->uid ? "UID " :
	    "");
}
