/*
 * THREAD and UID THREAD (RFC 5256 BASE.6.4.THREAD) with the algorithms
 * ORDEREDSUBJECT (2.1: messages grouped by base subject, each group
 * hung under its oldest message, groups by that message's date) and
 * REFERENCES (2.2: the Message-ID/References/In-Reply-To links with
 * dummies for the missing parents, the dummies pruned, the roots of
 * the same base subject merged, siblings by sent date).  Ties between
 * equal dates go in sequence order.  A dummy's subject and date are
 * its oldest child's: the siblings below the root are put in date
 * order before the subjects are merged, where the RFC says "first
 * child" without an order.  Message-IDs compare as octets.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/tree.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "imapd.h"
#include "imap_sortkey.h"

struct tnode {
	struct imap_msgkey	*k;		/* NULL: a dummy */
	const char		*id;		/* in the id table, or NULL */
	struct tnode		*parent;
	struct tnode		*child;		/* the first */
	struct tnode		*next;		/* sibling */
	RB_ENTRY(tnode)		 idt;
	SLIST_ENTRY(tnode)	 all;
};

struct tsubj {
	const char		*subject;
	struct tnode		*node;
	RB_ENTRY(tsubj)		 entry;
};

static int
tnode_cmp(struct tnode *a, struct tnode *b)
{
	return strcmp(a->id, b->id);
}

static int
tsubj_cmp(struct tsubj *a, struct tsubj *b)
{
	return strcmp(a->subject, b->subject);
}

RB_HEAD(tnode_ids, tnode);
RB_PROTOTYPE(tnode_ids, tnode, idt, tnode_cmp);
RB_GENERATE(tnode_ids, tnode, idt, tnode_cmp);
RB_HEAD(tsubjs, tsubj);
RB_PROTOTYPE(tsubjs, tsubj, entry, tsubj_cmp);
RB_GENERATE(tsubjs, tsubj, entry, tsubj_cmp);

struct thread_ctx {
	struct tnode		 root;		/* its children: the threads */
	struct tnode_ids	 ids;
	SLIST_HEAD(, tnode)	 nodes;		/* every node, to free */
};

static struct tnode *
tnode_new(struct thread_ctx *t, struct imap_msgkey *k)
{
	struct tnode	*n;

	if ((n = calloc(1, sizeof(*n))) == NULL)
		fatal("%s", __func__);
	n->k = k;
	SLIST_INSERT_HEAD(&t->nodes, n, all);
	return n;
}

static void
tnode_unlink(struct tnode *c)
{
	struct tnode	**pp;

	if (c->parent == NULL)
		return;
	for (pp = &c->parent->child; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	c->parent = NULL;
	c->next = NULL;
}

static void
tnode_append(struct tnode *p, struct tnode *c)
{
	struct tnode	**pp;

	for (pp = &p->child; *pp != NULL; pp = &(*pp)->next)
		;
	*pp = c;
	c->parent = p;
	c->next = NULL;
}

/* Whether making c a child of p would close a loop. */
static int
tnode_loops(const struct tnode *p, const struct tnode *c)
{
	for (; p != NULL; p = p->parent)
		if (p == c)
			return 1;
	return 0;
}

/* The node of an id, a dummy when no message had it yet. */
static struct tnode *
thread_id(struct thread_ctx *t, const char *id)
{
	struct tnode	 key, *n;

	key.id = id;
	if ((n = RB_FIND(tnode_ids, &t->ids, &key)) != NULL)
		return n;
	n = tnode_new(t, NULL);
	n->id = id;
	RB_INSERT(tnode_ids, &t->ids, n);
	return n;
}

/* Step 1: one message's node and the links its references give. */
static void
thread_link(struct thread_ctx *t, struct imap_msgkey *k)
{
	struct tnode	 key, *n = NULL, *prev = NULL, *r;
	int		 i;

	key.id = k->msgid;
	if (k->msgid != NULL &&
	    (n = RB_FIND(tnode_ids, &t->ids, &key)) != NULL && n->k == NULL)
		n->k = k;		/* a dummy until now */
	else if (k->msgid != NULL && n == NULL) {
		n = tnode_new(t, k);
		n->id = k->msgid;
		RB_INSERT(tnode_ids, &t->ids, n);
	} else
		n = tnode_new(t, k);	/* no id, or a duplicate: unique */
	/* A: each reference the parent of the next, unless linked. */
	for (i = 0; i < k->nrefs; i++) {
		r = thread_id(t, k->refs[i]);
		if (prev != NULL && r->parent == NULL && r != prev &&
		    !tnode_loops(prev, r))
			tnode_append(prev, r);
		prev = r;
	}
	/* B: the last reference is the parent, whatever was before. */
	tnode_unlink(n);
	if (prev != NULL && !tnode_loops(prev, n))
		tnode_append(prev, n);
}

/*
 * The nodes under p, parents before their children: the walk follows
 * the links, not the C stack, which a chain of replies could overflow.
 */
static struct tnode **
thread_preorder(struct tnode *p, size_t *np)
{
	struct tnode	**v = NULL, *n = p->child;
	size_t		  len = 0, cap = 0;

	while (n != NULL) {
		if (len == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			if ((v = reallocarray(v, cap, sizeof(*v))) == NULL)
				fatal("%s", __func__);
		}
		v[len++] = n;
		if (n->child != NULL) {
			n = n->child;
			continue;
		}
		while (n != p && n->next == NULL)
			n = n->parent;
		n = n == p ? NULL : n->next;
	}
	*np = len;
	return v;
}

/* A dummy's children where it was among its parent's. */
static void
tnode_splice(struct tnode *c)
{
	struct tnode	**pp, *g, *last = NULL;

	for (pp = &c->parent->child; *pp != c; pp = &(*pp)->next)
		;
	if (c->child == NULL) {
		*pp = c->next;
		return;
	}
	for (g = c->child; g != NULL; g = g->next) {
		g->parent = c->parent;
		last = g;
	}
	last->next = c->next;
	*pp = c->child;
	c->child = NULL;
}

/*
 * Step 4: dummies without children go, those with children give them
 * to their parent (at the root only when there is one child).  The
 * children are done before their parents, as a depth-first walk would.
 */
static void
thread_prune(struct thread_ctx *t)
{
	struct tnode	**v, *c;
	size_t		  n;

	v = thread_preorder(&t->root, &n);
	while (n-- > 0) {
		c = v[n];
		if (c->k != NULL || (c->parent == &t->root &&
		    c->child != NULL && c->child->next != NULL))
			continue;
		tnode_splice(c);
	}
	free(v);
}

/* The date a node sorts by: a dummy's is its first child's. */
static const struct imap_msgkey *
tnode_key(const struct tnode *n)
{
	while (n->k == NULL && n->child != NULL)
		n = n->child;
	return n->k;
}

static int
tnode_date_cmp(const void *va, const void *vb)
{
	const struct imap_msgkey *a = tnode_key(*(struct tnode *const *)va);
	const struct imap_msgkey *b = tnode_key(*(struct tnode *const *)vb);

	if (a == NULL || b == NULL)
		return (a == NULL) - (b == NULL);
	if (a->sent != b->sent)
		return a->sent < b->sent ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* One set of siblings by sent date. */
static void
tnode_sort_children(struct tnode *p)
{
	struct tnode	**v, *c;
	size_t		  n = 0, i;

	for (c = p->child; c != NULL; c = c->next)
		n++;
	if (n < 2)
		return;
	if ((v = reallocarray(NULL, n, sizeof(*v))) == NULL)
		fatal("%s", __func__);
	for (i = 0, c = p->child; c != NULL; c = c->next)
		v[i++] = c;
	qsort(v, n, sizeof(*v), tnode_date_cmp);
	p->child = v[0];
	for (i = 0; i + 1 < n; i++)
		v[i]->next = v[i + 1];
	v[n - 1]->next = NULL;
	free(v);
}

/*
 * Step 6: every set of siblings by sent date.  Dummies are at the top
 * only (after step 4), so sorting the other sets first gives them the
 * date of their oldest child before the top is sorted.
 */
static void
thread_sort(struct thread_ctx *t)
{
	struct tnode	*c;

	SLIST_FOREACH(c, &t->nodes, all)
		tnode_sort_children(c);
	tnode_sort_children(&t->root);
}

static const char *
tnode_subject(const struct tnode *n)
{
	const struct imap_msgkey *k = tnode_key(n);

	return k != NULL ? k->subject : "";
}

static int
tnode_refwd(const struct tnode *n)
{
	return n->k != NULL && n->k->refwd;
}

/* Step 5 B: the subject table, the best root for each subject. */
static void
thread_subjects(struct thread_ctx *t, struct tsubjs *tab)
{
	struct tnode	*c;
	struct tsubj	*e, key;

	for (c = t->root.child; c != NULL; c = c->next) {
		if ((key.subject = tnode_subject(c))[0] == '\0')
			continue;
		if ((e = RB_FIND(tsubjs, tab, &key)) == NULL) {
			if ((e = calloc(1, sizeof(*e))) == NULL)
				fatal("%s", __func__);
			e->subject = key.subject;
			e->node = c;
			RB_INSERT(tsubjs, tab, e);
		} else if (e->node->k != NULL && (c->k == NULL ||
		    (tnode_refwd(e->node) && !tnode_refwd(c))))
			e->node = c;
	}
}

/* Step 5 C: one root c into the table's root t of its subject. */
static void
thread_merge(struct thread_ctx *t, struct tsubj *e, struct tnode *c)
{
	struct tnode	*m = e->node, *d, *g, **pp;

	if (m->k == NULL && c->k == NULL) {
		tnode_unlink(c);
		while ((g = c->child) != NULL) {
			tnode_unlink(g);
			tnode_append(m, g);
		}
	} else if (m->k == NULL || (tnode_refwd(c) && !tnode_refwd(m))) {
		tnode_unlink(c);
		tnode_append(m, c);
	} else {
		/* A new dummy where m was, over m and c. */
		tnode_unlink(c);
		d = tnode_new(t, NULL);
		for (pp = &t->root.child; *pp != m; pp = &(*pp)->next)
			;
		*pp = d;
		d->next = m->next;
		d->parent = &t->root;
		m->parent = NULL;
		m->next = NULL;
		tnode_append(d, m);
		tnode_append(d, c);
		e->node = d;
	}
}

static void
thread_by_subject(struct thread_ctx *t)
{
	struct tsubjs	 tab = RB_INITIALIZER(&tab);
	struct tsubj	*e, *enext, key;
	struct tnode	*c, *next;

	thread_subjects(t, &tab);
	for (c = t->root.child; c != NULL; c = next) {
		next = c->next;
		if ((key.subject = tnode_subject(c))[0] == '\0')
			continue;
		if ((e = RB_FIND(tsubjs, &tab, &key)) == NULL ||
		    e->node == c)
			continue;
		thread_merge(t, e, c);
	}
	RB_FOREACH_SAFE(e, tsubjs, &tab, enext) {
		RB_REMOVE(tsubjs, &tab, e);
		free(e);
	}
}

static void
thread_references(struct thread_ctx *t, struct imap_msgkey *keys, size_t n)
{
	struct tnode	*c, **tail;
	size_t		 i;

	for (i = 0; i < n; i++)
		thread_link(t, &keys[i]);
	/* Step 2: the nodes without a parent. */
	tail = &t->root.child;
	SLIST_FOREACH(c, &t->nodes, all)
		if (c->parent == NULL) {
			c->parent = &t->root;
			*tail = c;
			tail = &c->next;
		}
	thread_prune(t);
	thread_sort(t);
	thread_by_subject(t);
	thread_sort(t);
}

static int
orderedsubject_cmp(const void *va, const void *vb)
{
	const struct imap_msgkey	*a = va, *b = vb;
	int				 r;

	if ((r = strcmp(a->subject, b->subject)) != 0)
		return r;
	if (a->sent != b->sent)
		return a->sent < b->sent ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* 2.1: the oldest of each subject at the root, the others under it. */
static void
thread_orderedsubject(struct thread_ctx *t, struct imap_msgkey *keys,
    size_t n)
{
	struct tnode	*top = NULL, *c;
	size_t		 i;

	qsort(keys, n, sizeof(*keys), orderedsubject_cmp);
	for (i = 0; i < n; i++) {
		c = tnode_new(t, &keys[i]);
		if (top != NULL && strcmp(top->k->subject,
		    keys[i].subject) == 0)
			tnode_append(top, c);
		else {
			tnode_append(&t->root, c);
			top = c;
		}
	}
	thread_sort(t);
}

/*
 * thread-list: a message, then its one child's list in the same
 * parentheses, or its children each in their own.  The branches being
 * written are kept on a stack of our own, not the C stack.
 */
static void
thread_write(FILE *f, const struct tnode *n, int uid)
{
	const struct tnode	**st = NULL;
	size_t			  depth = 0, cap = 0;
	int			  any = 0;

	fputc('(', f);
	for (;;) {
		for (;; n = n->child) {
			if (n->k != NULL) {
				fprintf(f, "%s%u", any ? " " : "",
				    uid ? n->k->uid : n->k->seq);
				any = 1;
			}
			if (n->child == NULL || n->child->next != NULL)
				break;
		}
		if (n->child != NULL) {
			/* Two or more children: each in its own list. */
			if (depth == cap) {
				cap = cap == 0 ? 16 : cap * 2;
				if ((st = reallocarray(st, cap,
				    sizeof(*st))) == NULL)
					fatal("%s", __func__);
			}
			if (any)
				fputc(' ', f);
			n = st[depth++] = n->child;
			fputc('(', f);
			any = 0;
			continue;
		}
		fputc(')', f);
		while (depth > 0 && st[depth - 1]->next == NULL) {
			depth--;
			fputc(')', f);
		}
		if (depth == 0)
			break;
		n = st[depth - 1] = st[depth - 1]->next;
		fputc('(', f);
		any = 0;
	}
	free(st);
}

void
imap_cmd_thread(struct mail_session *s, struct imap_cmd *cmd)
{
	struct imap_thread	*th = &cmd->u.thread;
	struct thread_ctx	 t;
	struct imap_msgkey	*keys;
	struct tnode		*c;
	uint32_t		*uids;
	size_t			 n;

	if (imap_search_select(s, cmd, &th->search, &uids, &n) == -1)
		return;
	keys = imap_msgkeys_load(s, uids, n, th->alg == THREAD_REFERENCES);
	free(uids);
	memset(&t, 0, sizeof(t));
	RB_INIT(&t.ids);
	SLIST_INIT(&t.nodes);
	if (th->alg == THREAD_REFERENCES)
		thread_references(&t, keys, n);
	else
		thread_orderedsubject(&t, keys, n);
	fputs("* THREAD", s->io.out);
	if (t.root.child != NULL)
		fputc(' ', s->io.out);
	for (c = t.root.child; c != NULL; c = c->next)
		thread_write(s->io.out, c, cmd->uid);
	fputs("\r\n", s->io.out);
	while ((c = SLIST_FIRST(&t.nodes)) != NULL) {
		SLIST_REMOVE_HEAD(&t.nodes, all);
		free(c);
	}
	imap_msgkeys_free(keys, n);
	imap_tagged(s, cmd, "OK", "%sTHREAD completed", cmd->uid ? "UID " :
	    "");
}
