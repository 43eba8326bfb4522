/*
 * The answer cache of the lookup process (smtp_lookup.c).
 *
 * Why one here when libunbound keeps its own: a question that
 * libunbound answers from its cache still goes to its resolver thread
 * and comes back through a pipe (ub_resolve_async), with a thread
 * switch and a wake-up of this process each way, and each message asks
 * five or six questions (the SPF records of the HELO name and of the
 * sender with their includes, the DMARC record, the DKIM keys).  An
 * answer kept here is sent back from the dispatch of the question.
 * Why not in the engine: the design keeps every cache that outlives a
 * session out of the process that parses the network's bytes.
 *
 * Kept: NOERROR and NXDOMAIN answers, for the TTL libunbound gives
 * (at most LCACHE_TTL_MAX); never a SERVFAIL or a timeout, which are
 * asked again.  Bounded: LCACHE_MAX answers, the oldest goes first;
 * names are kept lowercased, as DNS compares them.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/tree.h>

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dnsq.h"
#include "smtpd.h"

#define LCACHE_MAX	4096	/* answers kept */
#define LCACHE_TTL_MAX	3600	/* seconds, whatever the record says */

struct lcache_entry {
	RB_ENTRY(lcache_entry)	 node;
	TAILQ_ENTRY(lcache_entry) age;
	int			 type;
	time_t			 expires;	/* CLOCK_MONOTONIC seconds */
	int			 rcode;
	int			 truncated;
	size_t			 nrr;
	size_t			 datalen;
	struct dnsq_rr		*rr;
	char			*data;
	char			 name[DNSQ_NAME_MAX];
};

RB_HEAD(lcache_tree, lcache_entry);
TAILQ_HEAD(lcache_ages, lcache_entry);

static int	lcache_cmp(struct lcache_entry *, struct lcache_entry *);
RB_PROTOTYPE(lcache_tree, lcache_entry, node, lcache_cmp);

static struct lcache_tree	 lcache = RB_INITIALIZER(&lcache);
static struct lcache_ages	 lcache_age = TAILQ_HEAD_INITIALIZER(lcache_age);
static size_t			 lcache_n;

static int
lcache_cmp(struct lcache_entry *a, struct lcache_entry *b)
{
	if (a->type != b->type)
		return a->type < b->type ? -1 : 1;
	return strcmp(a->name, b->name);
}

RB_GENERATE(lcache_tree, lcache_entry, node, lcache_cmp);

static time_t
lcache_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* The key of a question: 0, or -1 for a name too long to keep. */
static int
lcache_key(struct lcache_entry *k, int type, const char *name)
{
	size_t	 i;

	for (i = 0; name[i] != '\0'; i++) {
		if (i + 1 >= sizeof(k->name))
			return -1;
		k->name[i] = tolower((unsigned char)name[i]);
	}
	k->name[i] = '\0';
	k->type = type;
	return 0;
}

static void
lcache_drop(struct lcache_entry *e)
{
	RB_REMOVE(lcache_tree, &lcache, e);
	TAILQ_REMOVE(&lcache_age, e, age);
	lcache_n--;
	free(e->rr);
	free(e->data);
	free(e);
}

int
lookup_cache_get(int type, const char *name, struct dnsq_answer *a)
{
	struct lcache_entry	 k, *e;

	if (lcache_key(&k, type, name) == -1 ||
	    (e = RB_FIND(lcache_tree, &lcache, &k)) == NULL)
		return -1;
	if (e->expires <= lcache_now()) {
		lcache_drop(e);
		return -1;
	}
	dnsq_answer_init(a, e->rcode);
	a->truncated = e->truncated;
	a->nrr = e->nrr;
	a->datalen = e->datalen;
	if (e->nrr)
		memcpy(a->rr, e->rr, e->nrr * sizeof(*e->rr));
	if (e->datalen)
		memcpy(a->data, e->data, e->datalen);
	return 0;
}

void
lookup_cache_put(int type, const char *name, const struct dnsq_answer *a,
    uint32_t ttl)
{
	struct lcache_entry	*e, *old;

	if (ttl == 0 || (a->rcode != DNSQ_NOERROR &&
	    a->rcode != DNSQ_NXDOMAIN) || (e = calloc(1, sizeof(*e))) == NULL)
		return;
	if (lcache_key(e, type, name) == -1 ||
	    (a->nrr && (e->rr = calloc(a->nrr, sizeof(*e->rr))) == NULL) ||
	    (a->datalen && (e->data = malloc(a->datalen)) == NULL)) {
		free(e->rr);
		free(e);
		return;
	}
	e->expires = lcache_now() + (ttl < LCACHE_TTL_MAX ? ttl :
	    LCACHE_TTL_MAX);
	e->rcode = a->rcode;
	e->truncated = a->truncated;
	e->nrr = a->nrr;
	e->datalen = a->datalen;
	if (a->nrr)
		memcpy(e->rr, a->rr, a->nrr * sizeof(*e->rr));
	if (a->datalen)
		memcpy(e->data, a->data, a->datalen);
	if ((old = RB_FIND(lcache_tree, &lcache, e)) != NULL)
		lcache_drop(old);
	else if (lcache_n >= LCACHE_MAX)
		lcache_drop(TAILQ_FIRST(&lcache_age));
	RB_INSERT(lcache_tree, &lcache, e);
	TAILQ_INSERT_TAIL(&lcache_age, e, age);
	lcache_n++;
}
