/*
 * fuzz_imap_cmd: libFuzzer target for imapd/imap_reader.c,
 * imap_parse.c, imap_seqset.c and imap_utf7.c.  The first byte picks
 * the limits; the rest goes through the reader as a client would send
 * it (lines, then the literals they announce) and the assembled
 * command through the parser.  Besides crashes it checks what they
 * promise: strings stay inside the command, sequence set counts are
 * within their bounds, LIST has a pattern and the STATUS items only
 * with RETURN (STATUS), SORT has 1 to IMAP_SORT_MAX known criteria and
 * a charset, THREAD a known algorithm, and the mailbox name codings are
 * exact inverses.  fuzz_imap_cmd.dict (make fuzz-run passes it) holds
 * the words of the extended LIST, CREATE and QUOTA syntax, ENABLE
 * IMAP4rev2/UTF8=ACCEPT, APPEND UTF8 (~{n}), SORT, THREAD and the
 * search keys, and UTF-8 or modified UTF-7 mailbox names.
 *
 *   make regress/fuzz/fuzz_imap_cmd
 *   ./regress/fuzz/fuzz_imap_cmd -max_total_time=60 -max_len=4096 \
 *	-dict=regress/fuzz/fuzz_imap_cmd.dict
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../imapd/imap_parse.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char	*lo, *hi;

static void
check_str(const struct imap_str *s)
{
	/* Unescaped quoted strings live in the arena: only check sizes. */
	if (s->nil)
		return;
	if (s->len > 0 && s->s == NULL)
		abort();
	if (s->literal && (s->s < lo || s->s + s->len > hi))
		abort();
}

static void
check_set(const struct imap_seqset *set)
{
	int64_t	 c;
	int	 i;

	/* Each end of each range is in the set. */
	for (i = 0; i < set->n; i++)
		if (!imap_seqset_contains(set, set->r[i].lo == 0 ? 100 :
		    set->r[i].lo, 100) || !imap_seqset_contains(set,
		    set->r[i].hi == 0 ? 100 : set->r[i].hi, 100))
			abort();
	/* Within 1..100, and not empty when a range reaches into it. */
	c = imap_seqset_count(set, 100);
	if (c < 0 || c > 100)
		abort();
	for (i = 0; i < set->n; i++)
		if ((set->r[i].lo <= 100 || set->r[i].hi <= 100) && c == 0)
			abort();
	if (imap_seqset_count(set, 0) != 0)
		abort();
	/* Within 1..100 only when no end is over 100 ("*" is 0). */
	for (i = 0; i < set->n; i++)
		if (imap_seqset_within(set, 100) && (set->r[i].lo > 100 ||
		    set->r[i].hi > 100))
			abort();
	if (set->n > 0 && imap_seqset_within(set, 0))
		abort();
}

static void
check_search(const struct imap_search_key *k, int depth)
{
	if (depth > 64)
		abort();
	for (; k != NULL; k = k->next) {
		check_str(&k->str);
		check_str(&k->value);
		if (k->type == SK_SEQSET || k->type == SK_UID)
			check_set(&k->set);
		if (k->type == SK_OR && (k->child == NULL ||
		    k->child->next == NULL))
			abort();
		if (k->type == SK_AND || k->type == SK_NOT || k->type == SK_OR)
			check_search(k->child, depth + 1);
	}
}

/* SORT and THREAD: what the parser promises their evaluators. */
static void
check_sort(const struct imap_cmd *c)
{
	int	 i;

	if (c->verb == IC_SORT) {
		if (c->u.sort.ncrit < 1 || c->u.sort.ncrit > IMAP_SORT_MAX)
			abort();
		for (i = 0; i < c->u.sort.ncrit; i++)
			if (c->u.sort.crit[i].key > SORT_DISPLAYTO)
				abort();
		if (c->u.sort.search.charset.s == NULL)
			abort();
		check_str(&c->u.sort.search.charset);
		check_search(c->u.sort.search.key, 0);
		return;
	}
	if (c->u.thread.alg != THREAD_ORDEREDSUBJECT &&
	    c->u.thread.alg != THREAD_REFERENCES)
		abort();
	if (c->u.thread.search.charset.s == NULL)
		abort();
	check_str(&c->u.thread.search.charset);
	check_search(c->u.thread.search.key, 0);
}

static void
check_list(const struct imap_list *l, int lsub)
{
	int	 i;

	check_str(&l->ref);
	if (l->patterns.n < 1 || (lsub && (l->patterns.n != 1 ||
	    l->extended)))
		abort();
	for (i = 0; i < l->patterns.n; i++)
		check_str(&l->patterns.v[i]);
	/* What the parser promises imap_list_ext.c. */
	if ((l->sel || l->ret) && !l->extended)
		abort();
	if ((l->ret & LRET_STATUS) ? l->status == 0 : l->status != 0)
		abort();
	if (l->sel & LSEL_RECURSIVEMATCH && !(l->sel & (LSEL_SUBSCRIBED |
	    LSEL_SPECIAL_USE)))
		abort();
}

/* RFC 3516 section-binary: part numbers only; BINARY.SIZE whole. */
static void
check_binary(const struct imap_fetch_att *a)
{
	int	 i;

	if (a->item != FA_BINARY && a->item != FA_BINARY_SIZE)
		return;
	if (a->sec.text != SEC_NONE || a->sec.fields.n != 0 ||
	    (a->item == FA_BINARY_SIZE && (a->partial || a->peek)))
		abort();
	for (i = 0; i < a->sec.npart; i++)
		if (a->sec.part[i] == 0)
			abort();
}

static void
check_cmd(const struct imap_cmd *c)
{
	int	 i;

	if (c->verb >= IC_NVERBS || strlen(c->tag) == 0)
		abort();
	switch (c->verb) {
	case IC_LOGIN:
		check_str(&c->u.login.user);
		check_str(&c->u.login.pass);
		break;
	case IC_APPEND:
		if (c->u.append.nmsg < 1)
			abort();
		for (i = 0; i < c->u.append.nmsg; i++) {
			check_str(&c->u.append.msg[i].data);
			/* A literal, or RFC 3516's literal8. */
			if (c->u.append.msg[i].data.literal < 1 ||
			    c->u.append.msg[i].data.literal > 2 ||
			    (c->u.append.msg[i].utf8 &&
			    c->u.append.msg[i].data.literal != 2))
				abort();
		}
		break;
	case IC_COMPRESS:
		check_str(&c->u.compress);
		if (c->u.compress.len == 0)
			abort();
		break;
	case IC_FETCH:
		check_set(&c->u.fetch.set);
		if (c->u.fetch.natt < 1)
			abort();
		for (i = 0; i < c->u.fetch.natt; i++)
			if (c->u.fetch.att[i].sec.npart > IMAP_SECTION_MAX ||
			    (c->u.fetch.att[i].partial &&
			    c->u.fetch.att[i].count == 0))
				abort();
		for (i = 0; i < c->u.fetch.natt; i++)
			check_binary(&c->u.fetch.att[i]);
		break;
	case IC_SEARCH:
		check_search(c->u.search.key, 0);
		break;
	case IC_SORT:
	case IC_THREAD:
		check_sort(c);
		break;
	case IC_STORE:
		check_set(&c->u.store.set);
		break;
	case IC_COPY:
	case IC_MOVE:
		check_set(&c->u.copy.set);
		check_str(&c->u.copy.mailbox);
		break;
	case IC_LIST:
	case IC_LSUB:
		check_list(&c->u.list, c->verb == IC_LSUB);
		break;
	case IC_CREATE:
		check_str(&c->u.create.mailbox);
		for (i = 0; i < c->u.create.use.n; i++)
			check_str(&c->u.create.use.v[i]);
		break;
	case IC_STATUS:
		check_str(&c->u.status.mailbox);
		if (c->u.status.items == 0)
			abort();
		break;
	case IC_SETQUOTA:
		check_str(&c->u.setquota.root);
		for (i = 0; i < c->u.setquota.nres; i++)
			if (c->u.setquota.res[i].name.len == 0 ||
			    c->u.setquota.res[i].limit > INT64_MAX)
				abort();
		break;
	default:
		break;
	}
}

static void
fuzz_utf7(const char *s, size_t n)
{
	char	 a[1024], b[1024];

	if (n > 200)
		n = 200;
	if (imap_utf7_decode(s, n, a, sizeof(a)) == 0) {
		/* Strict: a name decodes only if it is the one encoding. */
		if (!imap_utf8_valid(a, strlen(a)) ||
		    imap_utf7_encode(a, strlen(a), b, sizeof(b)) != 0 ||
		    strlen(b) != n || memcmp(b, s, n) != 0)
			abort();
	}
	if (imap_utf7_encode(s, n, a, sizeof(a)) == 0) {
		if (!imap_utf8_valid(s, n) ||
		    imap_utf7_decode(a, strlen(a), b, sizeof(b)) != 0 ||
		    strlen(b) != n || memcmp(b, s, n) != 0)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_limits	 lim;
	struct imap_reader	 r;
	struct imap_cmd		 cmd;
	const char		*in, *end, *nl, *err;
	enum imap_read		 st;
	size_t			 n;
	uint8_t			 k;

	if (size < 1)
		return 0;
	k = data[0];
	in = (const char *)data + 1;
	end = (const char *)data + size;
	lim.line_max = k & 1 ? 64 : 8192;
	lim.literal_max = k & 2 ? 16 : 65536;
	lim.command_max = k & 4 ? 256 : 1 << 20;
	lim.depth_max = k & 8 ? 2 : IMAP_DEPTH_MAX;
	lim.args_max = k & 16 ? 10 : IMAP_ARGS_MAX;
	lim.literal_plus = (k & 32) != 0;

	fuzz_utf7(in, end - in);

	imap_reader_init(&r, &lim);
	st = IMAP_READ_LINE;
	while (in < end) {
		if (st == IMAP_READ_LITERAL) {
			n = (size_t)(end - in);
			if (n > r.lit_size)
				n = r.lit_size;
			st = imap_reader_literal(&r, in, n);
			in += n;
			continue;
		}
		nl = memchr(in, '\n', end - in);
		n = nl == NULL ? (size_t)(end - in) : (size_t)(nl - in + 1);
		st = imap_reader_line(&r, in, n);
		in += n;
		if (st == IMAP_READ_LITERAL && r.lit_size == 0)
			st = imap_reader_literal(&r, NULL, 0);
		if (st == IMAP_READ_ERROR) {
			if (r.err == NULL)
				abort();
			imap_reader_reset(&r);
			st = IMAP_READ_LINE;
			continue;
		}
		if (st != IMAP_READ_DONE)
			continue;
		if (r.len > lim.command_max || r.buf[r.len] != '\0')
			abort();
		lo = r.buf;
		hi = r.buf + r.len;
		if (imap_parse_command(r.buf, r.len, &lim, &cmd, &err) == 0)
			check_cmd(&cmd);
		else if (err == NULL || *err == '\0')
			abort();
		imap_cmd_free(&cmd);
		imap_reader_reset(&r);
		st = IMAP_READ_LINE;
	}
	imap_reader_free(&r);
	return 0;
}
