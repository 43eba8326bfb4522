/*
 * imap_seqset: questions about a parsed sequence set (RFC 9051 9,
 * sequence-set): is a number in it, and how many numbers does it cover,
 * once "*" is known to be the largest number in use.
 */

#include <stdint.h>
#include <stdlib.h>

#include "imap_parse.h"

/* A range with "*" (0) replaced by max, low end first. */
static void
range_resolve(const struct imap_range *r, uint32_t max, uint32_t *lo,
    uint32_t *hi)
{
	uint32_t	 a = r->lo == 0 ? max : r->lo;
	uint32_t	 b = r->hi == 0 ? max : r->hi;

	*lo = a < b ? a : b;
	*hi = a < b ? b : a;
}

/* Is n in the set?  "$" sets are resolved by the session, not here. */
int
imap_seqset_contains(const struct imap_seqset *set, uint32_t n,
    uint32_t max)
{
	uint32_t	 lo, hi;
	int		 i;

	for (i = 0; i < set->n; i++) {
		range_resolve(&set->r[i], max, &lo, &hi);
		if (n >= lo && n <= hi)
			return 1;
	}
	return 0;
}

static int
range_cmp(const void *a, const void *b)
{
	const struct imap_range	*x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/*
 * How many of 1..max the set names, each counted once (ranges may
 * overlap): the ranges resolved, sorted and merged.  -1 when out of
 * memory.
 */
int64_t
imap_seqset_count(const struct imap_seqset *set, uint32_t max)
{
	struct imap_range	*v;
	uint32_t		 end = 0;
	int64_t			 count = 0;
	int			 i, n = 0;

	if (set->n == 0 || max == 0)
		return 0;
	if ((v = calloc(set->n, sizeof(*v))) == NULL)
		return -1;
	for (i = 0; i < set->n; i++) {
		range_resolve(&set->r[i], max, &v[n].lo, &v[n].hi);
		if (v[n].lo > max)
			continue;
		if (v[n].hi > max)
			v[n].hi = max;
		n++;
	}
	qsort(v, n, sizeof(*v), range_cmp);
	for (i = 0; i < n; i++) {
		if (v[i].hi <= end)
			continue;
		count += v[i].hi - (v[i].lo > end ? v[i].lo : end + 1) + 1;
		end = v[i].hi;
	}
	free(v);
	return count;
}

/*
 * Does a set name a message number past max, the last one the client
 * was told of (RFC 9051 2.3.1.2, RFC 3501 6.4.8: a BAD command)?  "*"
 * is max, so "n:*" with n past max and "*" in an empty mailbox are
 * past it too.
 */
int
imap_seqset_beyond(const struct imap_seqset *set, uint32_t max)
{
	uint32_t	 lo, hi;
	int		 i;

	if (set->saved)
		return 0;
	if (max == 0)
		return set->n != 0;
	for (i = 0; i < set->n; i++) {
		range_resolve(&set->r[i], max, &lo, &hi);
		if (hi > max)
			return 1;
	}
	return 0;
}
