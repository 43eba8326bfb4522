/*
 * LIST-EXTENDED (RFC 5258): LIST with selection options, several
 * patterns and return options, and LIST-STATUS (RFC 5819).  The base
 * LIST and LSUB stay in imap_cmd_list.c; this file takes a LIST as soon
 * as it has any of the extended syntax.
 *
 * The names considered are the folders of the Maildir++ tree (with the
 * levels that exist only as parents), the subscribed names and, for
 * RECURSIVEMATCH, the parents of subscribed names.  A name that is not
 * a folder is \NonExistent (which implies \Noselect; the base LIST says
 * \Noselect, as Dovecot does).  REMOTE selects nothing more: every
 * mailbox is local.  Unlike the base LIST, CHILDREN and special-use
 * attributes come only when asked for (RETURN, or the SPECIAL-USE
 * selection), as Dovecot answers.  INBOX is subscribed when the
 * subscriptions file says so, as in LSUB.
 */

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "subscriptions.h"
#include "imapd.h"

struct lx_name {
	char			 name[MAILBOX_NAME_MAX];
	const struct folder	*fo;		/* NULL: not a folder */
	int			 subscribed;
	int			 selected;	/* meets the selection */
	int			 matched;	/* matches a pattern */
};

struct lx_list {
	struct lx_name		*v;
	size_t			 n;
};

static struct lx_name *
lx_find(struct lx_list *ll, const char *name)
{
	size_t	 i;

	for (i = 0; i < ll->n; i++)
		if (strcmp(ll->v[i].name, name) == 0)
			return &ll->v[i];
	return NULL;
}

static struct lx_name *
lx_add(struct lx_list *ll, const char *name, const struct folder *fo)
{
	struct lx_name	*v;

	if ((v = lx_find(ll, name)) != NULL)
		return v;
	if ((v = reallocarray(ll->v, ll->n + 1, sizeof(*v))) == NULL)
		return NULL;
	ll->v = v;
	v = &ll->v[ll->n++];
	memset(v, 0, sizeof(*v));
	strlcpy(v->name, name, sizeof(v->name));
	v->fo = fo;
	return v;
}

static int
lx_cmp(const void *a, const void *b)
{
	const struct lx_name	*na = a, *nb = b;

	return folder_name_cmp(na->name, nb->name);
}

/* Subscribed names and, for RECURSIVEMATCH, their parents. */
static int
lx_add_subscribed(struct lx_list *ll, const struct subscriptions *subs,
    int parents)
{
	char		 p[MAILBOX_NAME_MAX], *dot;
	size_t		 i;

	for (i = 0; i < subs->n; i++) {
		if (lx_add(ll, subs->name[i], NULL) == NULL)
			return -1;
		if (!parents)
			continue;
		strlcpy(p, subs->name[i], sizeof(p));
		while ((dot = strrchr(p, MAILBOX_SEP)) != NULL) {
			*dot = '\0';
			if (lx_add(ll, p, NULL) == NULL)
				return -1;
		}
	}
	return 0;
}

static int
lx_selected(const struct imap_list *l, const struct lx_name *n)
{
	if ((l->sel & LSEL_SUBSCRIBED) && !n->subscribed)
		return 0;
	if ((l->sel & LSEL_SPECIAL_USE) && (n->fo == NULL ||
	    !n->fo->exists || n->fo->special == 0))
		return 0;
	/* Without a selection option, what LIST would list. */
	return n->fo != NULL || (l->sel & LSEL_SUBSCRIBED);
}

/*
 * RECURSIVEMATCH (RFC 5258 3.5): does a name below n meet the
 * selection without matching a pattern itself?
 */
static int
lx_childinfo(const struct lx_list *ll, const struct lx_name *n)
{
	size_t	 i, len = strlen(n->name);

	for (i = 0; i < ll->n; i++)
		if (ll->v[i].selected && !ll->v[i].matched &&
		    strncmp(ll->v[i].name, n->name, len) == 0 &&
		    ll->v[i].name[len] == MAILBOX_SEP)
			return 1;
	return 0;
}

/* A folder below name exists. */
static int
lx_children(const struct lx_list *ll, const char *name)
{
	size_t	 i, len = strlen(name);

	for (i = 0; i < ll->n; i++)
		if (ll->v[i].fo != NULL && ll->v[i].fo->exists &&
		    strncmp(ll->v[i].name, name, len) == 0 &&
		    ll->v[i].name[len] == MAILBOX_SEP)
			return 1;
	return 0;
}

static void
lx_write(struct mail_session *s, const struct imap_list *l,
    const struct lx_list *ll, const struct lx_name *n, int childinfo)
{
	FILE	*f = s->io.out;
	int	 bit, sp = 0, exists = n->fo != NULL && n->fo->exists;

	fputs("* LIST (", f);
	if (!exists)
		fprintf(f, "%s\\NonExistent", sp++ ? " " : "");
	if (((l->sel & LSEL_SUBSCRIBED) || (l->ret & LRET_SUBSCRIBED)) &&
	    n->subscribed)
		fprintf(f, "%s\\Subscribed", sp++ ? " " : "");
	if (l->ret & LRET_CHILDREN)
		fprintf(f, "%s%s", sp++ ? " " : "", lx_children(ll, n->name) ?
		    "\\HasChildren" : "\\HasNoChildren");
	for (bit = 1; exists && ((l->sel & LSEL_SPECIAL_USE) ||
	    (l->ret & LRET_SPECIAL_USE)) && bit <= MBOX_SPECIAL_ALL; bit <<= 1)
		if (n->fo->special & bit)
			fprintf(f, "%s%s", sp++ ? " " : "",
			    folder_special_name(bit));
	fputs(") \".\" ", f);
	imap_name_out(s, f, n->name);
	if (childinfo) {
		fputs(" (\"CHILDINFO\" (", f);
		if (l->sel & LSEL_SUBSCRIBED)
			fputs("\"SUBSCRIBED\"", f);
		if (l->sel & LSEL_SPECIAL_USE)
			fprintf(f, "%s\"SPECIAL-USE\"",
			    l->sel & LSEL_SUBSCRIBED ? " " : "");
		fputs("))", f);
	}
	fputs("\r\n", f);
}

/* The names of the listing, flagged, sorted. */
static int
lx_gather(struct mail_session *s, const struct imap_list *l,
    const struct folder_list *fl, struct lx_list *ll)
{
	struct subscriptions	 subs;
	struct lx_name		*n;
	size_t			 i;
	int			 r = -1;

	subs_init(&subs);
	if (((l->sel & LSEL_SUBSCRIBED) || (l->ret & LRET_SUBSCRIBED)) &&
	    subs_read(&subs, s->root) == -1) {
		log_warn("%s: subscriptions", s->user);
		goto done;
	}
	for (i = 0; i < fl->n; i++)
		if (lx_add(ll, fl->f[i].name, &fl->f[i]) == NULL)
			goto done;
	if ((l->sel & LSEL_SUBSCRIBED) && lx_add_subscribed(ll, &subs,
	    (l->sel & LSEL_RECURSIVEMATCH) != 0) == -1)
		goto done;
	for (i = 0; i < ll->n; i++) {
		n = &ll->v[i];
		n->subscribed = subs_has(&subs, n->name);
		n->matched = imap_list_wants(s, l, n->name);
		n->selected = lx_selected(l, n);
	}
	qsort(ll->v, ll->n, sizeof(*ll->v), lx_cmp);
	r = 0;
 done:
	subs_clear(&subs);
	return r;
}

void
imap_list_ext(struct mail_session *s, struct imap_cmd *cmd)
{
	const struct imap_list	*l = &cmd->u.list;
	struct folder_list	 fl;
	struct lx_list		 ll;
	const struct lx_name	*n;
	const char		*why;
	size_t			 i;
	int			 ci;

	/* RFC 5258 3: the delimiter, if the only pattern is empty. */
	if (l->patterns.n == 1 && l->patterns.v[0].len == 0) {
		fputs("* LIST (\\Noselect) \".\" \"\"\r\n", s->io.out);
		imap_tagged(s, cmd, "OK", "LIST completed");
		return;
	}
	if (folder_list(s->root, &fl) == -1) {
		log_warn("%s: folder list", s->user);
		imap_tagged(s, cmd, "NO", "[UNAVAILABLE] Cannot list");
		return;
	}
	memset(&ll, 0, sizeof(ll));
	if (lx_gather(s, l, &fl, &ll) == -1) {
		free(ll.v);
		folder_list_free(&fl);
		imap_tagged(s, cmd, "NO", "[UNAVAILABLE] Cannot list");
		return;
	}
	for (i = 0; i < ll.n; i++) {
		n = &ll.v[i];
		if (!n->matched)
			continue;
		ci = (l->sel & LSEL_RECURSIVEMATCH) && lx_childinfo(&ll, n);
		if (!n->selected && !ci)
			continue;
		lx_write(s, l, &ll, n, ci);
		/* RFC 5819: a mailbox that cannot say is left without. */
		if ((l->ret & LRET_STATUS) && n->fo != NULL &&
		    n->fo->exists && imap_status_write(s, n->name, l->status,
		    &why) == -1)
			log_debug("%s: LIST-STATUS %s: %s", s->user, n->name,
			    why);
	}
	free(ll.v);
	folder_list_free(&fl);
	imap_tagged(s, cmd, "OK", "LIST completed");
}
