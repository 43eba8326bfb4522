/*
 * Recipient and mailbox resolution over the tables.
 *
 * An address of a hosted domain resolves, in this order: an alias of
 * that name, a mailbox of that name, the same two for "user" when it was
 * "user+ext", and last the domain's catch-all alias "@domain".  Aliases
 * expand recursively into every destination, at most ALIAS_DEPTH_MAX
 * levels deep; an alias met again on its own expansion path is a loop
 * and ends there (at the mailbox of that name if one exists, which is
 * how "user: user, other" keeps a copy), and one already expanded by
 * another branch is not expanded twice.  Destinations in domains not
 * hosted here are returned as they are, without RCPT_LOCAL.
 */

#include <sys/types.h>
#include <sys/tree.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "imsg.h"
#include "authd.h"

/* Aliases one lookup may visit: bounds the work of a hostile table. */
#define VISIT_MAX	1024

enum visit_state {
	VISIT_PATH,		/* being expanded: meeting it again is a loop */
	VISIT_DONE,		/* its destinations are in the result */
};

struct visit {
	RB_ENTRY(visit)	 node;
	char		 key[AUTHD_KEY_MAX];
	int		 state;
};
RB_HEAD(vtree, visit);

struct expand {
	struct rcpt_results	*res;
	struct vtree		 visits;
	struct visit		 pool[VISIT_MAX];
	size_t			 nvisits;
	int			 overflow;
};

static int	visit_cmp(struct visit *, struct visit *);
RB_PROTOTYPE_STATIC(vtree, visit, node, visit_cmp)

static int	expand_alias(struct expand *, const char *, int);
static void	expand_addr(struct expand *, const struct mailaddr *, int);

/* Large (the visit pool): one lookup runs at a time. */
static struct expand	 expansion;

static int
visit_cmp(struct visit *a, struct visit *b)
{
	return strcmp(a->key, b->key);
}

RB_GENERATE_STATIC(vtree, visit, node, visit_cmp)

int
lookup_key(const struct mailaddr *a, char *key, size_t keysz)
{
	int	 n;

	n = snprintf(key, keysz, "%s@%s", a->local, a->domain);
	if (n < 0 || (size_t)n >= keysz)
		return -1;
	addr_lower(key);
	return 0;
}

/* Split a key back at its last '@' (a quoted local part may hold one). */
static int
key_split(const char *key, struct mailaddr *a)
{
	const char	*at;
	size_t		 ll;

	if ((at = strrchr(key, '@')) == NULL)
		return -1;
	ll = at - key;
	if (ll > ADDR_LOCAL_MAX ||
	    strlcpy(a->domain, at + 1, sizeof(a->domain)) >=
	    sizeof(a->domain))
		return -1;
	memcpy(a->local, key, ll);
	a->local[ll] = '\0';
	return 0;
}

/* "user+ext" -> "user"; -1 when there is no extension. */
static int
plus_base(const struct mailaddr *a, struct mailaddr *base)
{
	const char	*plus;

	if ((plus = strchr(a->local, '+')) == NULL || plus == a->local)
		return -1;
	*base = *a;
	base->local[plus - a->local] = '\0';
	return 0;
}

/*
 * The address a peer sent: bounded, free of control characters and a
 * well-formed RFC 5321 address, before any backend sees it.
 */
static int
input_parse(const char *s, struct mailaddr *a)
{
	const unsigned char	*p;

	if (strlen(s) > ADDR_MAX)
		return -1;
	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			return -1;
	if (addr_parse(s, a, ADDR_ALLOW_UTF8) == -1 || addr_is_null(a))
		return -1;
	return 0;
}

static struct visit *
visit_find(struct expand *x, const char *key)
{
	struct visit	 needle;

	if (strlcpy(needle.key, key, sizeof(needle.key)) >= sizeof(needle.key))
		return NULL;
	return RB_FIND(vtree, &x->visits, &needle);
}

static struct visit *
visit_add(struct expand *x, const char *key)
{
	struct visit	*v;

	if (x->nvisits == VISIT_MAX) {
		log_warnx("alias expansion visits more than %d aliases",
		    VISIT_MAX);
		x->overflow = 1;
		return NULL;
	}
	v = &x->pool[x->nvisits++];
	strlcpy(v->key, key, sizeof(v->key));
	v->state = VISIT_PATH;
	RB_INSERT(vtree, &x->visits, v);
	return v;
}

static void
result_add(struct expand *x, const struct mailaddr *a, uint8_t flags)
{
	struct rcpt_results	*res = x->res;
	char			 mbox[ADDR_MAX * 2];
	size_t			 i;

	addr_format(a, mbox, sizeof(mbox));
	if (strlen(mbox) > ADDR_MAX) {
		log_warnx("recipient %s is too long, dropped", mbox);
		return;
	}
	for (i = 0; i < res->n; i++)
		if (strcmp(res->r[i].mailbox, mbox) == 0)
			return;
	if (res->n == ALIAS_EXPAND_MAX) {
		log_warnx("alias expansion yields more than %d recipients",
		    ALIAS_EXPAND_MAX);
		x->overflow = 1;
		return;
	}
	strlcpy(res->r[res->n].mailbox, mbox, sizeof(res->r[res->n].mailbox));
	res->r[res->n].flags = flags;
	res->n++;
}

static int
mailbox_add(struct expand *x, const char *key)
{
	struct file_user	 u;
	struct mailaddr		 a;

	if (file_user_find(key, &u) == -1 || key_split(key, &a) == -1)
		return 0;
	result_add(x, &a, RCPT_LOCAL);
	return 1;
}

/* An alias, else a mailbox of that exact name: 1 if either matched. */
static int
expand_key(struct expand *x, const char *key, int depth)
{
	if (expand_alias(x, key, depth))
		return 1;
	return mailbox_add(x, key);
}

static int
expand_alias(struct expand *x, const char *key, int depth)
{
	struct file_alias	 al;
	struct visit		*v;
	size_t			 i;

	if (file_alias_find(key, &al) == -1)
		return 0;
	if ((v = visit_find(x, key)) != NULL) {
		if (v->state == VISIT_PATH && !mailbox_add(x, key))
			log_info("alias loop at %s", key);
		return 1;
	}
	if (depth >= ALIAS_DEPTH_MAX) {
		log_warnx("alias %s nested deeper than %d levels, dropped",
		    key, ALIAS_DEPTH_MAX);
		return 1;
	}
	if ((v = visit_add(x, key)) == NULL)
		return 1;
	for (i = 0; i < al.ndests && !x->overflow; i++)
		expand_addr(x, &al.dests[i], depth + 1);
	v->state = VISIT_DONE;
	return 1;
}

/* A hosted address: 1 if it resolved to something (or was cut short). */
static int
expand_local(struct expand *x, const struct mailaddr *a, const char *key,
    int depth)
{
	struct mailaddr	 base;
	char		 bkey[AUTHD_KEY_MAX];

	if (expand_key(x, key, depth))
		return 1;
	if (plus_base(a, &base) == 0 &&
	    lookup_key(&base, bkey, sizeof(bkey)) == 0 &&
	    expand_key(x, bkey, depth))
		return 1;
	if ((size_t)snprintf(bkey, sizeof(bkey), "@%s", a->domain) <
	    sizeof(bkey) && expand_alias(x, bkey, depth))
		return 1;
	return 0;
}

static void
expand_addr(struct expand *x, const struct mailaddr *a, int depth)
{
	char	 key[AUTHD_KEY_MAX];

	if (!file_domain_exists(a->domain)) {
		result_add(x, a, 0);
		return;
	}
	if (lookup_key(a, key, sizeof(key)) == -1)
		return;
	if (!expand_local(x, a, key, depth))
		log_info("alias destination %s: no such mailbox, dropped",
		    key);
}

/* What the answer takes on the wire, to keep it within one imsg. */
static size_t
results_wire_size(const struct rcpt_results *res)
{
	size_t	 i, sz = 8 + 1 + 4;

	for (i = 0; i < res->n; i++)
		sz += 2 + strlen(res->r[i].mailbox) + 1;
	return sz;
}

int
lookup_rcpt(const char *address, struct rcpt_results *res)
{
	struct expand	*x = &expansion;
	struct mailaddr	 a;
	char		 key[AUTHD_KEY_MAX];
	int		 found;

	res->n = 0;
	if (input_parse(address, &a) == -1 ||
	    lookup_key(&a, key, sizeof(key)) == -1)
		return LOOKUP_INVALID;
	file_refresh(0);
	if (!file_domain_exists(a.domain))
		return LOOKUP_NOTHOSTED;

	x->res = res;
	RB_INIT(&x->visits);
	x->nvisits = 0;
	x->overflow = 0;
	found = expand_local(x, &a, key, 0);

	if (x->overflow || results_wire_size(res) > IMSG_MAXPAYLOAD) {
		/* Deferred, not bounced: the admin can fix the table. */
		log_warnx("recipient %s: alias expansion too large, "
		    "deferred", key);
		res->n = 0;
		return LOOKUP_TEMPFAIL;
	}
	if (!found || res->n == 0) {
		res->n = 0;
		return LOOKUP_NOUSER;
	}
	return LOOKUP_OK;
}

/* "domain/local/", refusing names that would leave the mail root. */
static int
default_maildir(const struct mailaddr *a, char *out, size_t outsz)
{
	if (*a->local == '\0' || strchr(a->local, '/') != NULL ||
	    strcmp(a->local, ".") == 0 || strcmp(a->local, "..") == 0 ||
	    *a->domain == '\0' || strchr(a->domain, '/') != NULL ||
	    *a->domain == '.')
		return -1;
	if ((size_t)snprintf(out, outsz, "%s/%s/", a->domain, a->local) >=
	    outsz)
		return -1;
	return 0;
}

int
lookup_user(const char *mailbox, struct user_result *ur)
{
	struct mailaddr		 a, base;
	struct file_user	 u;
	char			 key[AUTHD_KEY_MAX];

	memset(ur, 0, sizeof(*ur));
	if (input_parse(mailbox, &a) == -1 ||
	    lookup_key(&a, key, sizeof(key)) == -1)
		return LOOKUP_INVALID;
	file_refresh(0);
	if (!file_domain_exists(a.domain))
		return LOOKUP_NOTHOSTED;
	if (file_user_find(key, &u) == -1) {
		if (plus_base(&a, &base) == -1 ||
		    lookup_key(&base, key, sizeof(key)) == -1 ||
		    file_user_find(key, &u) == -1)
			return LOOKUP_NOUSER;
	}
	if (key_split(key, &a) == -1)
		return LOOKUP_NOUSER;

	if (u.bad_home) {
		log_warnx("mailbox %s: home outside the mail root, deferred",
		    key);
		return LOOKUP_TEMPFAIL;
	}
	if (u.maildir != NULL)
		strlcpy(ur->maildir, u.maildir, sizeof(ur->maildir));
	else if (default_maildir(&a, ur->maildir, sizeof(ur->maildir)) ==
	    -1) {
		log_warnx("mailbox %s: name unusable as a directory, "
		    "deferred", key);
		*ur->maildir = '\0';
		return LOOKUP_TEMPFAIL;
	}
	ur->uid = u.has_uid ? u.uid : authd->vmail_uid;
	ur->gid = u.has_gid ? u.gid : authd->vmail_gid;
	ur->quota = 0;
	if (ur->uid == 0) {
		log_warnx("mailbox %s: refusing uid 0 as its owner", key);
		memset(ur, 0, sizeof(*ur));
		return LOOKUP_TEMPFAIL;
	}
	return LOOKUP_OK;
}
