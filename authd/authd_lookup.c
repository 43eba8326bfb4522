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
 * hosted here are returned as they are, without RCPT_LOCAL.  A table
 * that cannot answer (a database that is down) makes the whole lookup a
 * temporary failure, never a partial answer.
 *
 * "postmaster" (RFC 5321 4.5.1, in any case) of a hosted domain, or of
 * the host name even when that is not a hosted domain, that has no alias
 * or mailbox of its own resolves to the configured postmaster address
 * (tsamba.conf "postmaster"), expanded like an alias destination; only
 * when that leads nowhere does the domain's catch-all get it.  The
 * configured address is never expanded into itself: its own postmaster
 * without an entry is just unknown.
 *
 * Everything here runs in the worker threads: state is per thread.
 *
 * Logins: the user is looked up by its lowercased address and the
 * password checked with passwd_verify(); an unknown user costs a hash
 * too, so timing does not tell which users exist.  Senders: a user may
 * send as its own address (with or without a +extension), or as an
 * alias whose every destination is that user.
 */

#include <sys/types.h>
#include <sys/tree.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "imsg.h"
#include "maildir.h"
#include "table_file.h"
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
	int			 tempfail;
	int			 in_postmaster;	/* expanding the configured one */
};

static int	visit_cmp(struct visit *, struct visit *);
RB_PROTOTYPE_STATIC(vtree, visit, node, visit_cmp)

static int	expand_alias(struct expand *, const char *, int);
static int	expand_addr(struct expand *, const struct mailaddr *, int);

/* Large (the visit pool): one per worker thread, made on first use. */
static __thread struct expand	*expansion;
/* A hash of a random password, checked for unknown users. */
static char			 dummy_hash[PASSWD_HASH_MAX];
/* tsamba.conf "postmaster", parsed once before the workers start. */
static struct mailaddr		 postmaster;

static int
visit_cmp(struct visit *a, struct visit *b)
{
	return strcmp(a->key, b->key);
}

RB_GENERATE_STATIC(vtree, visit, node, visit_cmp)

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
	struct table_user	 u;
	struct mailaddr		 a;

	switch (table_user(key, &u)) {
	case TABLE_FOUND:
		break;
	case TABLE_TEMPFAIL:
		x->tempfail = 1;
		return 1;
	default:
		return 0;
	}
	if (key_split(key, &a) == -1)
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
	struct table_alias	 al;
	struct visit		*v;
	size_t			 i;

	if (x->tempfail)
		return 1;
	switch (table_alias(key, &al)) {
	case TABLE_FOUND:
		break;
	case TABLE_TEMPFAIL:
		x->tempfail = 1;
		return 1;
	default:
		return 0;
	}
	if ((v = visit_find(x, key)) != NULL) {
		if (v->state == VISIT_PATH && !mailbox_add(x, key))
			log_info("alias loop at %s", key);
		goto done;
	}
	if (depth >= ALIAS_DEPTH_MAX) {
		log_warnx("alias %s nested deeper than %d levels, dropped",
		    key, ALIAS_DEPTH_MAX);
		goto done;
	}
	if ((v = visit_add(x, key)) == NULL)
		goto done;
	for (i = 0; i < al.ndests && !x->overflow && !x->tempfail; i++)
		expand_addr(x, &al.dests[i], depth + 1);
	v->state = VISIT_DONE;
 done:
	table_alias_free(&al);
	return 1;
}

/* RFC 5321 4.5.1: the reserved local part, in any case. */
static int
is_postmaster(const struct mailaddr *a)
{
	return strcasecmp(a->local, "postmaster") == 0;
}

/* postmaster@ the host name, hosted domain or not. */
static int
is_host_postmaster(const struct mailaddr *a)
{
	return is_postmaster(a) &&
	    strcasecmp(a->domain, authd->conf->hostname) == 0;
}

/*
 * A postmaster without an entry of its own: the configured address.  Not
 * within that address's own expansion, where it would be its own answer
 * (the default postmaster@hostname when nothing is set up for it).
 */
static int
expand_postmaster(struct expand *x, int depth)
{
	int	 found;

	if (x->in_postmaster)
		return 0;
	x->in_postmaster = 1;
	found = expand_addr(x, &postmaster, depth + 1);
	x->in_postmaster = 0;
	return found;
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
	    table_addr_key(&base, bkey, sizeof(bkey)) == 0 &&
	    expand_key(x, bkey, depth))
		return 1;
	if (is_postmaster(a) && expand_postmaster(x, depth))
		return 1;
	if ((size_t)snprintf(bkey, sizeof(bkey), "@%s", a->domain) <
	    sizeof(bkey) && expand_alias(x, bkey, depth))
		return 1;
	return 0;
}

/* 1 if it resolved to something (or was cut short). */
static int
expand_addr(struct expand *x, const struct mailaddr *a, int depth)
{
	char	 key[AUTHD_KEY_MAX];

	if (x->tempfail)
		return 1;
	switch (table_domain(a->domain)) {
	case TABLE_NOTFOUND:
		/* Sent on, it would come back here: relaying denied. */
		if (is_host_postmaster(a))
			return expand_postmaster(x, depth);
		result_add(x, a, 0);
		return 1;
	case TABLE_TEMPFAIL:
		x->tempfail = 1;
		return 1;
	}
	if (table_addr_key(a, key, sizeof(key)) == -1)
		return 0;
	if (!expand_local(x, a, key, depth)) {
		log_info("alias destination %s: no such mailbox, dropped",
		    key);
		return 0;
	}
	return 1;
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

/* This thread's expansion state, reset for one lookup into res. */
static struct expand *
expand_begin(struct rcpt_results *res)
{
	struct expand	*x;

	res->n = 0;
	if (expansion == NULL && (expansion = malloc(sizeof(*expansion))) ==
	    NULL) {
		log_warn("%s", __func__);
		return NULL;
	}
	x = expansion;
	x->res = res;
	RB_INIT(&x->visits);
	x->nvisits = 0;
	x->overflow = 0;
	x->tempfail = 0;
	x->in_postmaster = 0;
	return x;
}

/* The status of a finished expansion of key; found: it matched. */
static int
expand_end(struct expand *x, const char *key, int found)
{
	struct rcpt_results	*res = x->res;

	if (x->tempfail) {
		res->n = 0;
		return LOOKUP_TEMPFAIL;
	}

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

int
lookup_rcpt(const char *address, struct rcpt_results *res)
{
	struct expand	*x;
	struct mailaddr	 a;
	char		 key[AUTHD_KEY_MAX];
	int		 found, hosted = 1;

	res->n = 0;
	if (input_parse(address, &a) == -1 ||
	    table_addr_key(&a, key, sizeof(key)) == -1)
		return LOOKUP_INVALID;
	switch (table_domain(a.domain)) {
	case TABLE_NOTFOUND:
		if (!is_host_postmaster(&a))
			return LOOKUP_NOTHOSTED;
		hosted = 0;
		break;
	case TABLE_TEMPFAIL:
		return LOOKUP_TEMPFAIL;
	}
	if ((x = expand_begin(res)) == NULL)
		return LOOKUP_TEMPFAIL;
	if (hosted)
		found = expand_local(x, &a, key, 0);
	else
		found = expand_postmaster(x, 0);
	return expand_end(x, key, found);
}

/*
 * At start-up, in the main thread: where mail to the configured
 * postmaster goes.  Only a warning when it goes nowhere (then such mail
 * is refused as an unknown user): the tables may be fixed while we run.
 */
void
lookup_postmaster_check(void)
{
	struct rcpt_results	*res;
	struct expand		*x;
	const char		*pm = authd->conf->postmaster;
	int			 status = LOOKUP_TEMPFAIL;

	if ((res = calloc(1, sizeof(*res))) == NULL)
		fatal("%s", __func__);
	table_thread_start();
	if ((x = expand_begin(res)) != NULL)
		status = expand_end(x, pm, expand_postmaster(x, 0));
	table_thread_stop();
	switch (status) {
	case LOOKUP_OK:
		log_debug("postmaster %s: %zu recipient(s)", pm, res->n);
		break;
	case LOOKUP_TEMPFAIL:
		log_warnx("postmaster %s: cannot be checked now", pm);
		break;
	default:
		log_warnx("postmaster %s leads to no mailbox: mail to "
		    "a postmaster without its own entry is refused; add a "
		    "mailbox or alias for it, or set \"postmaster\" in "
		    "tsamba.conf", pm);
		break;
	}
	free(res);
	/* The workers have their own; this thread's is done with. */
	free(expansion);
	expansion = NULL;
}

/*
 * The quota handed to lmtpd and imapd (MAILDIR_QUOTA_*): the user's
 * own from the table, 0 there meaning unlimited as in Postfixadmin and
 * Dovecot; else the limit mailbox-size of the config, unset when the
 * config has none (a limit maildirsize carries then stands).
 */
static uint64_t
user_quota(const struct table_user *u)
{
	size_t	 dflt = authd->conf->mailbox_quota;

	if (u->has_quota)
		return u->quota == 0 ? MAILDIR_QUOTA_NONE : u->quota;
	if (dflt == CONF_QUOTA_UNSET)
		return MAILDIR_QUOTA_UNSET;
	return dflt == 0 ? MAILDIR_QUOTA_NONE : dflt;
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
	struct table_user	 u;
	char			 key[AUTHD_KEY_MAX];
	int			 rv;

	memset(ur, 0, sizeof(*ur));
	if (input_parse(mailbox, &a) == -1 ||
	    table_addr_key(&a, key, sizeof(key)) == -1)
		return LOOKUP_INVALID;
	switch (table_domain(a.domain)) {
	case TABLE_NOTFOUND:
		return LOOKUP_NOTHOSTED;
	case TABLE_TEMPFAIL:
		return LOOKUP_TEMPFAIL;
	}
	if ((rv = table_user(key, &u)) == TABLE_NOTFOUND) {
		if (plus_base(&a, &base) == -1 ||
		    table_addr_key(&base, key, sizeof(key)) == -1)
			return LOOKUP_NOUSER;
		rv = table_user(key, &u);
	}
	if (rv == TABLE_TEMPFAIL)
		return LOOKUP_TEMPFAIL;
	if (rv != TABLE_FOUND)
		return LOOKUP_NOUSER;
	if (key_split(key, &a) == -1)
		return LOOKUP_NOUSER;

	if (u.bad_home) {
		log_warnx("mailbox %s: home outside the mail root, deferred",
		    key);
		return LOOKUP_TEMPFAIL;
	}
	if (u.maildir[0] != '\0')
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
	ur->quota = user_quota(&u);
	if (ur->uid == 0) {
		log_warnx("mailbox %s: refusing uid 0 as its owner", key);
		memset(ur, 0, sizeof(*ur));
		return LOOKUP_TEMPFAIL;
	}
	return LOOKUP_OK;
}

void
lookup_init(void)
{
	char	 pw[PASSWD_MIN_POLICY + 1];

	if (addr_parse(authd->conf->postmaster, &postmaster, 0) == -1 ||
	    addr_is_null(&postmaster))
		fatalx("postmaster address %s: not an address",
		    authd->conf->postmaster);
	if (passwd_generate(pw, sizeof(pw), PASSWD_MIN_POLICY) == -1 ||
	    passwd_hash("SHA512-CRYPT", pw, dummy_hash,
	    sizeof(dummy_hash)) == -1)
		fatalx("cannot make the hash for unknown users");
	explicit_bzero(pw, sizeof(pw));
}

/* "user@domain" lowercased, or -1 for anything else. */
static int
login_key(const char *user, char *key, size_t keysz)
{
	struct mailaddr	 a;

	if (input_parse(user, &a) == -1 || table_addr_key(&a, key, keysz) == -1)
		return -1;
	return 0;
}

int
lookup_login(const char *user, const char *password, size_t len,
    char *canon, size_t canonsz, int *reason)
{
	struct table_user	 u;
	char			 key[AUTHD_KEY_MAX];
	int			 rv;

	*canon = '\0';
	*reason = LOGIN_REASON_NOUSER;
	if (login_key(user, key, sizeof(key)) == -1) {
		(void)passwd_verifyn(dummy_hash, password, len);
		return AUTH_FAIL;
	}
	if ((rv = table_user(key, &u)) == TABLE_TEMPFAIL)
		return AUTH_TEMPFAIL;
	if (rv != TABLE_FOUND) {
		(void)passwd_verifyn(dummy_hash, password, len);
		return AUTH_FAIL;
	}
	rv = passwd_verifyn(u.hash, password, len);
	explicit_bzero(u.hash, sizeof(u.hash));
	switch (rv) {
	case PASSWD_OK:
		strlcpy(canon, u.canon, canonsz);
		return AUTH_OK;
	case PASSWD_TEMPFAIL:
		return AUTH_TEMPFAIL;
	case PASSWD_BADSCHEME:
		log_warnx("user %s: unknown password scheme or malformed "
		    "hash in the users table: fix the table", key);
		*reason = LOGIN_REASON_SCHEME;
		return AUTH_FAIL;
	default:
		*reason = LOGIN_REASON_PASSWORD;
		return AUTH_FAIL;
	}
}

/* 1 when a is the user's key or its +extension. */
static int
sender_is_user(const struct mailaddr *a, const char *ukey)
{
	struct mailaddr	 base;
	char		 key[AUTHD_KEY_MAX];

	if (table_addr_key(a, key, sizeof(key)) == 0 && strcmp(key, ukey) == 0)
		return 1;
	if (plus_base(a, &base) == 0 &&
	    table_addr_key(&base, key, sizeof(key)) == 0 &&
	    strcmp(key, ukey) == 0)
		return 1;
	return 0;
}

int
lookup_sender(const char *user, const char *sender)
{
	struct table_alias	 al;
	struct mailaddr		 a;
	char			 ukey[AUTHD_KEY_MAX], key[AUTHD_KEY_MAX];
	size_t			 i;
	int			 rv, ok;

	if (login_key(user, ukey, sizeof(ukey)) == -1 ||
	    input_parse(sender, &a) == -1 ||
	    table_addr_key(&a, key, sizeof(key)) == -1)
		return LOOKUP_INVALID;
	if (sender_is_user(&a, ukey))
		return LOOKUP_OK;
	if ((rv = table_alias(key, &al)) == TABLE_TEMPFAIL)
		return LOOKUP_TEMPFAIL;
	if (rv != TABLE_FOUND)
		return LOOKUP_NOUSER;
	ok = al.ndests > 0;
	for (i = 0; i < al.ndests; i++)
		if (table_addr_key(&al.dests[i], key, sizeof(key)) == -1 ||
		    strcmp(key, ukey) != 0)
			ok = 0;
	table_alias_free(&al);
	return ok ? LOOKUP_OK : LOOKUP_NOUSER;
}
