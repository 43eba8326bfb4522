/*
 * imap_parse: the IMAP command grammar of RFC 9051 and RFC 3501 with
 * the extensions tsamba-imapd offers (CONDSTORE/QRESYNC RFC 7162,
 * LIST-EXTENDED RFC 5258, LIST-STATUS RFC 5819, SPECIAL-USE RFC 6154,
 * ESEARCH/SEARCHRES RFC 4731/5182, SORT/THREAD RFC 5256, BINARY RFC
 * 3516, MULTIAPPEND RFC 3502, UTF8=ACCEPT RFC 6855, QUOTA RFC 9208,
 * ID RFC 2971, COMPRESS RFC 4978, ENABLE RFC 5161).  It reads one
 * command assembled by imap_reader.c into a struct imap_cmd whose
 * strings point into that buffer; anything it cannot read gives a
 * reason to put after BAD.  No I/O and no session state.
 */

#include <sys/types.h>

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "imap_parse.h"

/* Memory for one command, released at once by imap_cmd_free(). */
struct imap_arena {
	struct imap_arena	*next;
	size_t			 used, size;
	max_align_t		 data[];
};

struct lex {
	const char		*p, *end;
	const struct imap_limits *lim;
	struct imap_cmd		*cmd;
	int			 depth;
	int			 ntok;
	const char		*err;
	int			 hard;
};

typedef int (*cmd_parser)(struct lex *, struct imap_cmd *);

/*
 * FAIL keeps the first reason; REFAIL replaces a generic one by what
 * the caller knows, but not one of HARDFAIL's (limits, bad numbers).
 */
#define REFAIL(l, msg)	do { if (!(l)->hard) (l)->err = (msg); \
			    return -1; } while (0)
#define HARDFAIL(l, msg) do { if ((l)->err == NULL) { (l)->err = (msg); \
			    (l)->hard = 1; } return -1; } while (0)
#define FAIL(l, msg)	do { if ((l)->err == NULL) (l)->err = (msg); \
			    return -1; } while (0)

static void	*arena_alloc(struct lex *, size_t);
static void	*vec_push(struct lex *, void *, int *, size_t);
static int	 lex_peek(struct lex *);
static int	 lex_sp(struct lex *);
static int	 lex_lsp(struct lex *);
static int	 lex_char(struct lex *, int, const char *);
static int	 lex_try(struct lex *, int);
static int	 lex_eol(struct lex *);
static int	 lex_token(struct lex *);
static int	 lex_word(struct lex *, const char *);
static int	 lex_open(struct lex *);
static int	 lex_close(struct lex *);
static int	 lex_atom(struct lex *, struct imap_str *, int);
static int	 lex_quoted(struct lex *, struct imap_str *);
static int	 lex_literal(struct lex *, struct imap_str *, int);
static int	 lex_string(struct lex *, struct imap_str *);
static int	 lex_astring(struct lex *, struct imap_str *);
static int	 lex_nstring(struct lex *, struct imap_str *);
static int	 lex_u64(struct lex *, uint64_t *, uint64_t);
static int	 lex_u32(struct lex *, uint32_t *);
static int	 lex_nz32(struct lex *, uint32_t *);
static int	 lex_seqset(struct lex *, struct imap_seqset *);
static int	 lex_flag(struct lex *, struct imap_str *);
static int	 lex_flag_list(struct lex *, struct imap_strlist *);
static int	 lex_date(struct lex *, struct imap_date *);
static int	 lex_date_time(struct lex *, time_t *, int *);
static int	 lex_mailbox(struct lex *, struct imap_str *);

static int	 p_none(struct lex *, struct imap_cmd *);
static int	 p_authenticate(struct lex *, struct imap_cmd *);
static int	 p_login(struct lex *, struct imap_cmd *);
static int	 p_enable(struct lex *, struct imap_cmd *);
static int	 p_select(struct lex *, struct imap_cmd *);
static int	 p_create(struct lex *, struct imap_cmd *);
static int	 p_mailbox(struct lex *, struct imap_cmd *);
static int	 p_rename(struct lex *, struct imap_cmd *);
static int	 p_list(struct lex *, struct imap_cmd *);
static int	 p_lsub(struct lex *, struct imap_cmd *);
static int	 p_status(struct lex *, struct imap_cmd *);
static int	 p_append(struct lex *, struct imap_cmd *);
static int	 p_expunge(struct lex *, struct imap_cmd *);
static int	 p_search(struct lex *, struct imap_cmd *);
static int	 p_fetch(struct lex *, struct imap_cmd *);
static int	 p_store(struct lex *, struct imap_cmd *);
static int	 p_copy(struct lex *, struct imap_cmd *);
static int	 p_sort(struct lex *, struct imap_cmd *);
static int	 p_thread(struct lex *, struct imap_cmd *);
static int	 p_getquota(struct lex *, struct imap_cmd *);
static int	 p_setquota(struct lex *, struct imap_cmd *);
static int	 p_compress(struct lex *, struct imap_cmd *);
static int	 p_id(struct lex *, struct imap_cmd *);

static const struct {
	const char	*name;
	cmd_parser	 parse;
	int		 uid;		/* may follow "UID" */
} imap_cmds[IC_NVERBS] = {
	[IC_CAPABILITY] = { "CAPABILITY", p_none, 0 },
	[IC_NOOP] = { "NOOP", p_none, 0 },
	[IC_LOGOUT] = { "LOGOUT", p_none, 0 },
	[IC_STARTTLS] = { "STARTTLS", p_none, 0 },
	[IC_AUTHENTICATE] = { "AUTHENTICATE", p_authenticate, 0 },
	[IC_LOGIN] = { "LOGIN", p_login, 0 },
	[IC_ENABLE] = { "ENABLE", p_enable, 0 },
	[IC_SELECT] = { "SELECT", p_select, 0 },
	[IC_EXAMINE] = { "EXAMINE", p_select, 0 },
	[IC_CREATE] = { "CREATE", p_create, 0 },
	[IC_DELETE] = { "DELETE", p_mailbox, 0 },
	[IC_RENAME] = { "RENAME", p_rename, 0 },
	[IC_SUBSCRIBE] = { "SUBSCRIBE", p_mailbox, 0 },
	[IC_UNSUBSCRIBE] = { "UNSUBSCRIBE", p_mailbox, 0 },
	[IC_LIST] = { "LIST", p_list, 0 },
	[IC_LSUB] = { "LSUB", p_lsub, 0 },
	[IC_NAMESPACE] = { "NAMESPACE", p_none, 0 },
	[IC_STATUS] = { "STATUS", p_status, 0 },
	[IC_APPEND] = { "APPEND", p_append, 0 },
	[IC_IDLE] = { "IDLE", p_none, 0 },
	[IC_CHECK] = { "CHECK", p_none, 0 },
	[IC_CLOSE] = { "CLOSE", p_none, 0 },
	[IC_UNSELECT] = { "UNSELECT", p_none, 0 },
	[IC_EXPUNGE] = { "EXPUNGE", p_expunge, 1 },
	[IC_SEARCH] = { "SEARCH", p_search, 1 },
	[IC_FETCH] = { "FETCH", p_fetch, 1 },
	[IC_STORE] = { "STORE", p_store, 1 },
	[IC_COPY] = { "COPY", p_copy, 1 },
	[IC_MOVE] = { "MOVE", p_copy, 1 },
	[IC_SORT] = { "SORT", p_sort, 1 },
	[IC_THREAD] = { "THREAD", p_thread, 1 },
	[IC_GETQUOTA] = { "GETQUOTA", p_getquota, 0 },
	[IC_GETQUOTAROOT] = { "GETQUOTAROOT", p_mailbox, 0 },
	[IC_SETQUOTA] = { "SETQUOTA", p_setquota, 0 },
	[IC_COMPRESS] = { "COMPRESS", p_compress, 0 },
	[IC_ID] = { "ID", p_id, 0 },
};

static const char *const months[12] = { "Jan", "Feb", "Mar", "Apr", "May",
    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

const char *
imap_verb_name(enum imap_verb v)
{
	return v < IC_NVERBS ? imap_cmds[v].name : "?";
}

int
imap_str_eq(const struct imap_str *s, const char *w)
{
	return !s->nil && strlen(w) == s->len &&
	    strncasecmp(s->s, w, s->len) == 0;
}

/* RFC 9051 5.1: INBOX is case-insensitive, other names are not. */
int
imap_str_is_inbox(const struct imap_str *s)
{
	return imap_str_eq(s, "INBOX");
}

void
imap_cmd_free(struct imap_cmd *cmd)
{
	struct imap_arena	*a, *next;

	for (a = cmd->arena; a != NULL; a = next) {
		next = a->next;
		free(a);
	}
	cmd->arena = NULL;
}

static void *
arena_alloc(struct lex *l, size_t n)
{
	struct imap_arena	*a = l->cmd->arena;
	size_t			 sz;
	void			*p;

	n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
	if (a == NULL || a->size - a->used < n) {
		sz = n > 4096 ? n : 4096;
		if ((a = malloc(sizeof(*a) + sz)) == NULL) {
			l->err = "Out of memory";
			l->hard = 1;
			return NULL;
		}
		a->size = sz;
		a->used = 0;
		a->next = l->cmd->arena;
		l->cmd->arena = a;
	}
	p = (char *)a->data + a->used;
	a->used += n;
	memset(p, 0, n);
	return p;
}

/*
 * Append one element to an arena array of *n elements, doubling it at
 * powers of two.  The old copy stays in the arena; the argument limit
 * bounds the waste.
 */
static void *
vec_push(struct lex *l, void *v, int *n, size_t elsize)
{
	void	*nv;

	if (*n > 0 && (*n & (*n - 1)) != 0) {
		(*n)++;
		return v;
	}
	if ((nv = arena_alloc(l, elsize * (*n == 0 ? 1 : *n * 2))) == NULL)
		return NULL;
	if (*n > 0)
		memcpy(nv, v, elsize * *n);
	(*n)++;
	return nv;
}

#define PUSH(l, arr, cnt) \
	(((arr) = vec_push((l), (arr), &(cnt), sizeof(*(arr)))) == NULL ? \
	    NULL : &(arr)[(cnt) - 1])

static int
lex_peek(struct lex *l)
{
	return l->p < l->end ? (unsigned char)*l->p : -1;
}

static int
lex_token(struct lex *l)
{
	if (++l->ntok > l->lim->args_max)
		HARDFAIL(l, "Too many arguments");
	return 0;
}

static int
lex_char(struct lex *l, int c, const char *msg)
{
	if (lex_peek(l) != c)
		FAIL(l, msg);
	l->p++;
	return 0;
}

static int
lex_sp(struct lex *l)
{
	return lex_char(l, ' ', "Expected a space");
}

/* The space between list elements; at the end of the line, a ")" is missing. */
static int
lex_lsp(struct lex *l)
{
	if (lex_peek(l) == '\r' || lex_peek(l) == -1)
		FAIL(l, "Expected ')'");
	return lex_sp(l);
}

static int
lex_try(struct lex *l, int c)
{
	if (lex_peek(l) != c)
		return 0;
	l->p++;
	return 1;
}

static int
lex_eol(struct lex *l)
{
	if (l->end - l->p == 2 && l->p[0] == '\r' && l->p[1] == '\n')
		return 0;
	if (l->p < l->end && *l->p == ' ')
		FAIL(l, "Extra spaces or arguments");
	FAIL(l, "Unexpected argument");
}

/* A keyword, any case, not followed by more atom characters. */
static int
lex_word(struct lex *l, const char *w)
{
	size_t	 n = strlen(w);
	int	 c;

	if ((size_t)(l->end - l->p) < n || strncasecmp(l->p, w, n) != 0)
		return 0;
	c = l->p + n < l->end ? (unsigned char)l->p[n] : -1;
	if (c != ' ' && c != ')' && c != '\r' && c != -1 && c != '(')
		return 0;
	l->p += n;
	return 1;
}

static int
lex_open(struct lex *l)
{
	if (lex_char(l, '(', "Expected '('") == -1)
		return -1;
	if (++l->depth > l->lim->depth_max)
		HARDFAIL(l, "Too deeply nested");
	return lex_token(l);
}

static int
lex_close(struct lex *l)
{
	if (lex_char(l, ')', "Expected ')'") == -1)
		return -1;
	l->depth--;
	return 0;
}

/*
 * ATOM-CHAR: any CHAR but atom-specials (RFC 9051 9).  With astring
 * set, resp-specials "]" too (ASTRING-CHAR); with list set, "%" and
 * "*" too (list-char).
 */
#define ATOM_ASTRING	1
#define ATOM_LIST	2
#define ATOM_FLAG	4	/* the "\" of a system flag is read apart */
static int
atom_char(int c, int how)
{
	if (c <= 0x20 || c >= 0x7f)
		return 0;
	switch (c) {
	case '(': case ')': case '{': case '"': case '\\':
		return 0;
	case ']':
		return (how & ATOM_ASTRING) != 0;
	case '%': case '*':
		return (how & ATOM_LIST) != 0;
	}
	return 1;
}

static int
lex_atom(struct lex *l, struct imap_str *s, int how)
{
	const char	*start = l->p;

	while (l->p < l->end && atom_char((unsigned char)*l->p, how))
		l->p++;
	if (l->p == start)
		FAIL(l, "Expected an atom");
	memset(s, 0, sizeof(*s));
	s->s = start;
	s->len = l->p - start;
	return lex_token(l);
}

/* quoted = DQUOTE *QUOTED-CHAR DQUOTE, "\" escaping only " and \. */
static int
lex_quoted(struct lex *l, struct imap_str *s)
{
	const char	*start;
	char		*out;
	size_t		 n = 0, esc = 0;

	if (lex_char(l, '"', "Expected '\"'") == -1)
		return -1;
	start = l->p;
	for (;;) {
		if (l->p >= l->end || *l->p == '\r' || *l->p == '\n')
			FAIL(l, "Unterminated quoted string");
		if (*l->p == '"')
			break;
		if (*l->p == '\\') {
			l->p++;
			if (l->p >= l->end || (*l->p != '"' && *l->p != '\\'))
				FAIL(l, "Invalid escape in quoted string");
			esc++;
		}
		l->p++;
		n++;
	}
	memset(s, 0, sizeof(*s));
	s->len = n;
	if (esc == 0)
		s->s = start;
	else {
		if ((out = arena_alloc(l, n + 1)) == NULL)
			return -1;
		s->s = out;
		for (; start < l->p; start++) {
			if (*start == '\\')
				start++;
			*out++ = *start;
		}
	}
	l->p++;
	return lex_token(l);
}

/*
 * literal = "{" number "}" CRLF *CHAR8 (and "{n+}" of RFC 7888);
 * literal8 = "~{" number "}" CRLF *OCTET, allowed when eight is set.
 * A plain literal holds no NUL unless nul_ok.
 */
#define LIT_8		1
#define LIT_NUL_OK	2
static int
lex_literal(struct lex *l, struct imap_str *s, int how)
{
	uint64_t	 n = 0;
	int		 eight = 0, digits = 0;

	if (lex_try(l, '~')) {
		if (!(how & LIT_8))
			FAIL(l, "literal8 not allowed here");
		eight = 1;
	}
	if (lex_char(l, '{', "Expected '{'") == -1)
		return -1;
	while (l->p < l->end && *l->p >= '0' && *l->p <= '9') {
		n = n * 10 + (*l->p++ - '0');
		if (++digits > 10)
			FAIL(l, "Invalid literal size");
	}
	if (digits == 0 || n > UINT32_MAX)
		FAIL(l, "Invalid literal size");
	(void)lex_try(l, '+');
	if (lex_char(l, '}', "Invalid literal") == -1 ||
	    lex_char(l, '\r', "Expected CRLF after literal size") == -1 ||
	    lex_char(l, '\n', "Expected CRLF after literal size") == -1)
		return -1;
	if (n > l->lim->literal_max)
		HARDFAIL(l, "Literal too big");
	if ((uint64_t)(l->end - l->p) < n)
		HARDFAIL(l, "Literal shorter than announced");
	memset(s, 0, sizeof(*s));
	s->s = l->p;
	s->len = n;
	s->literal = eight ? 2 : 1;
	if (!eight && !(how & LIT_NUL_OK) && memchr(s->s, '\0', n) != NULL)
		FAIL(l, "NUL in literal");
	l->p += n;
	return lex_token(l);
}

static int
lex_string(struct lex *l, struct imap_str *s)
{
	int	 c = lex_peek(l);

	if (c == '"')
		return lex_quoted(l, s);
	if (c == '{')
		return lex_literal(l, s, 0);
	FAIL(l, "Expected a string");
}

static int
lex_astring(struct lex *l, struct imap_str *s)
{
	int	 c = lex_peek(l);

	if (c == '"' || c == '{')
		return lex_string(l, s);
	if (c == '~' && l->end - l->p > 1 && l->p[1] == '{')
		FAIL(l, "literal8 not allowed here");
	return lex_atom(l, s, ATOM_ASTRING);
}

static int
lex_nstring(struct lex *l, struct imap_str *s)
{
	if (lex_word(l, "NIL")) {
		memset(s, 0, sizeof(*s));
		s->nil = 1;
		return lex_token(l);
	}
	return lex_string(l, s);
}

static int
lex_mailbox(struct lex *l, struct imap_str *s)
{
	return lex_astring(l, s);
}

/* number = 1*DIGIT within max (u32 or number64 of RFC 9051). */
static int
lex_u64(struct lex *l, uint64_t *v, uint64_t max)
{
	uint64_t	 n = 0;
	const char	*start = l->p;

	while (l->p < l->end && *l->p >= '0' && *l->p <= '9') {
		if (n > (max - (*l->p - '0')) / 10)
			HARDFAIL(l, "Number too big");
		n = n * 10 + (*l->p++ - '0');
	}
	if (l->p == start)
		FAIL(l, "Expected a number");
	*v = n;
	return lex_token(l);
}

static int
lex_u32(struct lex *l, uint32_t *v)
{
	uint64_t	 n;

	if (lex_u64(l, &n, UINT32_MAX) == -1)
		return -1;
	*v = n;
	return 0;
}

static int
lex_nz32(struct lex *l, uint32_t *v)
{
	if (lex_u32(l, v) == -1)
		return -1;
	if (*v == 0)
		HARDFAIL(l, "Zero where a nonzero number is needed");
	return 0;
}

static int
lex_seq_number(struct lex *l, uint32_t *v)
{
	if (lex_try(l, '*')) {
		*v = 0;
		return 0;
	}
	return lex_nz32(l, v);
}

/* sequence-set = ("$" / seq-number / seq-range) *("," ...) */
static int
lex_seqset(struct lex *l, struct imap_seqset *set)
{
	struct imap_range	*r;

	memset(set, 0, sizeof(*set));
	if (lex_try(l, '$')) {
		set->saved = 1;
		return lex_token(l);
	}
	do {
		if ((r = PUSH(l, set->r, set->n)) == NULL)
			return -1;
		if (lex_seq_number(l, &r->lo) == -1)
			REFAIL(l, "Invalid sequence set");
		r->hi = r->lo;
		if (lex_try(l, ':') && lex_seq_number(l, &r->hi) == -1)
			REFAIL(l, "Invalid sequence set");
	} while (lex_try(l, ','));
	if (lex_peek(l) != ' ' && lex_peek(l) != ')' && lex_peek(l) != '\r')
		FAIL(l, "Invalid sequence set");
	return 0;
}

/* flag = "\" atom / keyword; "\*" only where flag-perm is wanted. */
static int
lex_flag(struct lex *l, struct imap_str *s)
{
	const char	*start = l->p;

	if (lex_try(l, '\\')) {
		if (lex_atom(l, s, ATOM_FLAG) == -1)
			REFAIL(l, "Invalid flag");
		s->s = start;
		s->len++;
		return 0;
	}
	if (lex_atom(l, s, 0) == -1)
		REFAIL(l, "Invalid flag");
	return 0;
}

static int
lex_flag_list(struct lex *l, struct imap_strlist *fl)
{
	struct imap_str	*s;

	memset(fl, 0, sizeof(*fl));
	if (lex_open(l) == -1)
		return -1;
	while (lex_peek(l) != ')') {
		if (fl->n > 0 && lex_lsp(l) == -1)
			return -1;
		if ((s = PUSH(l, fl->v, fl->n)) == NULL ||
		    lex_flag(l, s) == -1)
			return -1;
	}
	return lex_close(l);
}

static int
month_number(const char *p)
{
	int	 i;

	for (i = 0; i < 12; i++)
		if (strncasecmp(p, months[i], 3) == 0)
			return i + 1;
	return 0;
}

static int
days_in_month(int y, int m)
{
	static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30,
	    31, 30, 31 };

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return mdays[m - 1];
}

/* date = date-text / DQUOTE date-text DQUOTE; 1*2DIGIT "-" Mon "-" 4DIGIT */
static int
lex_date(struct lex *l, struct imap_date *d)
{
	int	 q, i, day = 0;

	q = lex_try(l, '"');
	for (i = 0; i < 2 && l->p < l->end && *l->p >= '0' && *l->p <= '9';
	    i++)
		day = day * 10 + (*l->p++ - '0');
	if (i == 0 || l->end - l->p < 9 || *l->p != '-' ||
	    (d->mon = month_number(l->p + 1)) == 0 || l->p[4] != '-')
		FAIL(l, "Invalid date");
	l->p += 5;
	d->year = 0;
	for (i = 0; i < 4; i++, l->p++) {
		if (*l->p < '0' || *l->p > '9')
			FAIL(l, "Invalid date");
		d->year = d->year * 10 + (*l->p - '0');
	}
	if (day < 1 || day > days_in_month(d->year, d->mon))
		FAIL(l, "Invalid date");
	d->day = day;
	if (q && lex_char(l, '"', "Invalid date") == -1)
		return -1;
	return lex_token(l);
}

static int
digits(const char *p, int n, int *v)
{
	*v = 0;
	for (; n > 0; n--, p++) {
		if (*p < '0' || *p > '9')
			return -1;
		*v = *v * 10 + (*p - '0');
	}
	return 0;
}

/* date-time = DQUOTE date-day-fixed "-" Mon "-" YYYY SP time SP zone DQUOTE */
static int
lex_date_time(struct lex *l, time_t *t, int *tzoff)
{
	const char	*p = l->p;
	struct tm	 tm;
	int		 day, mon, year, hh, mm, ss, zh, zm;

	if (l->end - p < 28 || p[0] != '"' || p[27] != '"')
		FAIL(l, "Invalid date-time");
	if (p[1] == ' ')
		day = p[2] - '0';
	else if (digits(p + 1, 2, &day) == -1)
		FAIL(l, "Invalid date-time");
	if (p[2] < '0' || p[2] > '9' || p[3] != '-' ||
	    (mon = month_number(p + 4)) == 0 || p[7] != '-' ||
	    digits(p + 8, 4, &year) == -1 || p[12] != ' ' ||
	    digits(p + 13, 2, &hh) == -1 || p[15] != ':' ||
	    digits(p + 16, 2, &mm) == -1 || p[18] != ':' ||
	    digits(p + 19, 2, &ss) == -1 || p[21] != ' ' ||
	    (p[22] != '+' && p[22] != '-') || digits(p + 23, 2, &zh) == -1 ||
	    digits(p + 25, 2, &zm) == -1)
		FAIL(l, "Invalid date-time");
	if (day < 1 || day > days_in_month(year, mon) || hh > 23 || mm > 59 ||
	    ss > 60 || zm > 59)
		FAIL(l, "Invalid date-time");
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	*tzoff = (zh * 60 + zm) * (p[22] == '-' ? -1 : 1);
	*t = timegm(&tm) - *tzoff * 60;
	l->p += 28;
	return lex_token(l);
}

/* The commands. */

static int
p_none(struct lex *l, struct imap_cmd *cmd)
{
	return 0;
}

/* AUTHENTICATE mech [SP (base64 / "=")] (RFC 4959 SASL-IR) */
static int
p_authenticate(struct lex *l, struct imap_cmd *cmd)
{
	const char	*start;
	size_t		 n;

	if (lex_sp(l) == -1 || lex_atom(l, &cmd->u.auth.mech, 0) == -1)
		return -1;
	cmd->u.auth.initial.nil = 1;
	if (!lex_try(l, ' '))
		return 0;
	start = l->p;
	while (l->p < l->end && (isalnum((unsigned char)*l->p) ||
	    *l->p == '+' || *l->p == '/'))
		l->p++;
	while (l->p < l->end && *l->p == '=')
		l->p++;
	n = l->p - start;
	if (n == 0 || (n % 4 != 0 && !(n == 1 && *start == '=')))
		FAIL(l, "Invalid base64 initial response");
	cmd->u.auth.initial.nil = 0;
	cmd->u.auth.initial.s = start;
	cmd->u.auth.initial.len = n;
	return lex_token(l);
}

static int
p_login(struct lex *l, struct imap_cmd *cmd)
{
	if (lex_sp(l) == -1 || lex_astring(l, &cmd->u.login.user) == -1 ||
	    lex_sp(l) == -1 || lex_astring(l, &cmd->u.login.pass) == -1)
		return -1;
	return 0;
}

static int
p_enable(struct lex *l, struct imap_cmd *cmd)
{
	struct imap_strlist	*e = &cmd->u.enable;
	struct imap_str		*s;

	do {
		if (lex_sp(l) == -1 || (s = PUSH(l, e->v, e->n)) == NULL ||
		    lex_atom(l, s, 0) == -1)
			return -1;
	} while (lex_peek(l) == ' ');
	return 0;
}

/* QRESYNC SP "(" uidvalidity SP modseq [SP known-uids] [SP seq-match] ")" */
static int
p_qresync(struct lex *l, struct imap_select *sel)
{
	uint64_t	 ms;

	if (lex_sp(l) == -1 || lex_open(l) == -1 ||
	    lex_nz32(l, &sel->uidvalidity) == -1 || lex_sp(l) == -1 ||
	    lex_u64(l, &ms, INT64_MAX) == -1)
		return -1;
	if (ms == 0)
		FAIL(l, "Invalid mod-sequence");
	sel->modseq = ms;
	if (lex_try(l, ' ') && lex_peek(l) != '(') {
		if (lex_seqset(l, &sel->known_uids) == -1)
			return -1;
		if (sel->known_uids.saved)
			FAIL(l, "$ not allowed in known-uids");
		(void)lex_try(l, ' ');
	}
	if (lex_peek(l) == '(') {
		if (lex_open(l) == -1 ||
		    lex_seqset(l, &sel->seq_match) == -1 || lex_sp(l) == -1 ||
		    lex_seqset(l, &sel->uid_match) == -1 || lex_close(l) == -1)
			return -1;
		if (sel->seq_match.saved || sel->uid_match.saved)
			FAIL(l, "$ not allowed in seq-match-data");
	}
	return lex_close(l);
}

static int
p_select(struct lex *l, struct imap_cmd *cmd)
{
	struct imap_select	*sel = &cmd->u.select;
	int			 first = 1;

	if (lex_sp(l) == -1 || lex_mailbox(l, &sel->mailbox) == -1)
		return -1;
	if (!lex_try(l, ' '))
		return 0;
	if (lex_open(l) == -1)
		return -1;
	while (lex_peek(l) != ')') {
		if (!first && lex_lsp(l) == -1)
			return -1;
		first = 0;
		if (lex_word(l, "CONDSTORE"))
			sel->condstore = 1;
		else if (lex_word(l, "QRESYNC")) {
			if (sel->qresync)
				FAIL(l, "QRESYNC given twice");
			sel->qresync = 1;
			if (p_qresync(l, sel) == -1)
				return -1;
		} else
			FAIL(l, "Unknown SELECT parameter");
		if (lex_token(l) == -1)
			return -1;
	}
	return lex_close(l);
}

/* CREATE mailbox [SP "(" "USE" SP "(" use-attr *(SP use-attr) ")" ")"] */
static int
p_create(struct lex *l, struct imap_cmd *cmd)
{
	if (lex_sp(l) == -1 || lex_mailbox(l, &cmd->u.create.mailbox) == -1)
		return -1;
	if (!lex_try(l, ' '))
		return 0;
	if (lex_open(l) == -1)
		return -1;
	if (!lex_word(l, "USE"))
		FAIL(l, "Unknown CREATE parameter");
	if (lex_sp(l) == -1 || lex_flag_list(l, &cmd->u.create.use) == -1)
		return -1;
	return lex_close(l);
}

static int
p_mailbox(struct lex *l, struct imap_cmd *cmd)
{
	if (lex_sp(l) == -1 || lex_mailbox(l, &cmd->u.mailbox) == -1)
		return -1;
	return 0;
}

static int
p_rename(struct lex *l, struct imap_cmd *cmd)
{
	if (lex_sp(l) == -1 || lex_mailbox(l, &cmd->u.rename.from) == -1 ||
	    lex_sp(l) == -1 || lex_mailbox(l, &cmd->u.rename.to) == -1)
		return -1;
	return 0;
}

/* list-mailbox = 1*list-char / string */
static int
lex_list_mailbox(struct lex *l, struct imap_str *s)
{
	int	 c = lex_peek(l);

	if (c == '"' || c == '{')
		return lex_string(l, s);
	return lex_atom(l, s, ATOM_ASTRING | ATOM_LIST);
}

static int
lex_status_items(struct lex *l, unsigned int *items)
{
	static const struct { const char *name; unsigned int bit; } att[] = {
		{ "MESSAGES", ST_MESSAGES }, { "UIDNEXT", ST_UIDNEXT },
		{ "UIDVALIDITY", ST_UIDVALIDITY }, { "UNSEEN", ST_UNSEEN },
		{ "DELETED", ST_DELETED }, { "SIZE", ST_SIZE },
		{ "RECENT", ST_RECENT }, { "HIGHESTMODSEQ", ST_HIGHESTMODSEQ },
		{ "APPENDLIMIT", ST_APPENDLIMIT },
		{ "DELETED-STORAGE", ST_DELETED_STORAGE },
	};
	size_t	 i;
	int	 first = 1;

	*items = 0;
	if (lex_open(l) == -1)
		return -1;
	do {
		if (!first && lex_lsp(l) == -1)
			return -1;
		first = 0;
		for (i = 0; i < sizeof(att) / sizeof(att[0]); i++)
			if (lex_word(l, att[i].name))
				break;
		if (i == sizeof(att) / sizeof(att[0]))
			FAIL(l, "Unknown STATUS item");
		*items |= att[i].bit;
		if (lex_token(l) == -1)
			return -1;
	} while (lex_peek(l) != ')');
	return lex_close(l);
}

static int
p_list_select(struct lex *l, struct imap_list *li)
{
	int	 first = 1;

	if (lex_open(l) == -1)
		return -1;
	while (lex_peek(l) != ')') {
		if (!first && lex_lsp(l) == -1)
			return -1;
		first = 0;
		if (lex_word(l, "SUBSCRIBED"))
			li->sel |= LSEL_SUBSCRIBED;
		else if (lex_word(l, "REMOTE"))
			li->sel |= LSEL_REMOTE;
		else if (lex_word(l, "RECURSIVEMATCH"))
			li->sel |= LSEL_RECURSIVEMATCH;
		else if (lex_word(l, "SPECIAL-USE"))
			li->sel |= LSEL_SPECIAL_USE;
		else
			FAIL(l, "Unknown LIST selection option");
		if (lex_token(l) == -1)
			return -1;
	}
	/* RFC 5258 3: RECURSIVEMATCH alone means nothing. */
	if (li->sel == LSEL_RECURSIVEMATCH ||
	    li->sel == (LSEL_RECURSIVEMATCH | LSEL_REMOTE))
		FAIL(l, "RECURSIVEMATCH needs another selection option");
	return lex_close(l);
}

static int
p_list_return(struct lex *l, struct imap_list *li)
{
	int	 first = 1;

	if (lex_open(l) == -1)
		return -1;
	while (lex_peek(l) != ')') {
		if (!first && lex_lsp(l) == -1)
			return -1;
		first = 0;
		if (lex_word(l, "SUBSCRIBED"))
			li->ret |= LRET_SUBSCRIBED;
		else if (lex_word(l, "CHILDREN"))
			li->ret |= LRET_CHILDREN;
		else if (lex_word(l, "SPECIAL-USE"))
			li->ret |= LRET_SPECIAL_USE;
		else if (lex_word(l, "STATUS")) {
			li->ret |= LRET_STATUS;
			if (lex_sp(l) == -1 ||
			    lex_status_items(l, &li->status) == -1)
				return -1;
		} else
			FAIL(l, "Unknown LIST return option");
		if (lex_token(l) == -1)
			return -1;
	}
	return lex_close(l);
}

static int
p_list(struct lex *l, struct imap_cmd *cmd)
{
	struct imap_list	*li = &cmd->u.list;
	struct imap_str		*s;

	if (lex_sp(l) == -1)
		return -1;
	if (lex_peek(l) == '(') {
		li->extended = 1;
		if (p_list_select(l, li) == -1 || lex_sp(l) == -1)
			return -1;
	}
	if (lex_mailbox(l, &li->ref) == -1 || lex_sp(l) == -1)
		return -1;
	if (lex_peek(l) == '(') {
		li->extended = 1;
		if (lex_open(l) == -1)
			return -1;
		do {
			if (li->patterns.n > 0 && lex_lsp(l) == -1)
				return -1;
			if ((s = PUSH(l, li->patterns.v,
			    li->patterns.n)) == NULL ||
			    lex_list_mailbox(l, s) == -1)
				return -1;
		} while (lex_peek(l) != ')');
		if (lex_close(l) == -1)
			return -1;
	} else if ((s = PUSH(l, li->patterns.v, li->patterns.n)) == NULL ||
	    lex_list_mailbox(l, s) == -1)
		return -1;
	if (lex_try(l, ' ')) {
		if (!lex_word(l, "RETURN"))
			FAIL(l, "Expected RETURN");
		li->extended = 1;
		if (lex_sp(l) == -1 || p_list_return(l, li) == -1)
			return -1;
	}
	return 0;
}

static int
p_lsub(struct lex *l, struct imap_cmd *cmd)
{
	struct imap_list	*li = &cmd->u.list;
	struct imap_str		*s;

	if (lex_sp(l) == -1 || lex_mailbox(l, &li->ref) == -1 ||
	    lex_sp(l) == -1 ||
	    (s = PUSH(l, li->patterns.v, li->patterns.n)) == NULL ||
	    lex_list_mailbox(l, s) == -1)
		return -1;
	return 0;
}

static int
p_status(struct lex *l, struct imap_cmd *cmd)
{
	if (lex_sp(l) == -1 || lex_mailbox(l, &cmd->u.status.mailbox) == -1 ||
	    lex_sp(l) == -1 || lex_status_items(l, &cmd->u.status.items) == -1)
		return -1;
	return 0;
}

/*
 * [flag-list SP] [date-time SP] (literal / literal8 /
 * "UTF8" SP "(" literal8 ")")
 */
static int
p_append_msg(struct lex *l, struct imap_append_msg *m)
{
	if (lex_peek(l) == '(') {
		m->has_flags = 1;
		if (lex_flag_list(l, &m->flags) == -1 || lex_sp(l) == -1)
			return -1;
	}
	if (lex_peek(l) == '"') {
		m->has_date = 1;
		if (lex_date_time(l, &m->date, &m->tzoff) == -1 ||
		    lex_sp(l) == -1)
			return -1;
	}
	if (lex_word(l, "UTF8")) {
		m->utf8 = 1;
		if (lex_sp(l) == -1 || lex_open(l) == -1)
			return -1;
		if (lex_peek(l) != '~')
			FAIL(l, "UTF8 needs a literal8");
		if (lex_literal(l, &m->data, LIT_8) == -1)
			return -1;
		return lex_close(l);
	}
	if (lex_peek(l) != '{' && lex_peek(l) != '~')
		FAIL(l, "Expected the message as a literal");
	return lex_literal(l, &m->data, LIT_8 | LIT_NUL_OK);
}

static int
p_append(struct lex *l, struct imap_cmd *cmd)
{
	struct imap_append	*a = &cmd->u.append;
	struct imap_append_msg	*m;

	if (lex_sp(l) == -1 || lex_mailbox(l, &a->mailbox) == -1)
		return -1;
	do {
		if (lex_sp(l) == -1 || (m = PUSH(l, a->msg, a->nmsg)) == NULL ||
		    p_append_msg(l, m) == -1)
			return -1;
	} while (lex_peek(l) == ' ');
	return 0;
}

static int
p_expunge(struct lex *l, struct imap_cmd *cmd)
{
	if (!cmd->uid)
		return 0;
	if (lex_sp(l) == -1 || lex_seqset(l, &cmd->u.expunge) == -1)
		return -1;
	return 0;
}

/* The search keys (RFC 9051 6.4.4, RFC 7162 3.1.5, RFC 5032). */

static const struct {
	const char	*name;
	enum imap_skey	 type;
	enum { A_NONE, A_STR, A_ASTR2, A_DATE, A_NUM, A_SET, A_FLAG } arg;
} skeys[] = {
	{ "ALL", SK_ALL, A_NONE }, { "ANSWERED", SK_ANSWERED, A_NONE },
	{ "DELETED", SK_DELETED, A_NONE }, { "DRAFT", SK_DRAFT, A_NONE },
	{ "FLAGGED", SK_FLAGGED, A_NONE }, { "NEW", SK_NEW, A_NONE },
	{ "OLD", SK_OLD, A_NONE }, { "RECENT", SK_RECENT, A_NONE },
	{ "SEEN", SK_SEEN, A_NONE }, { "UNANSWERED", SK_UNANSWERED, A_NONE },
	{ "UNDELETED", SK_UNDELETED, A_NONE },
	{ "UNDRAFT", SK_UNDRAFT, A_NONE },
	{ "UNFLAGGED", SK_UNFLAGGED, A_NONE },
	{ "UNSEEN", SK_UNSEEN, A_NONE },
	{ "KEYWORD", SK_KEYWORD, A_FLAG },
	{ "UNKEYWORD", SK_UNKEYWORD, A_FLAG },
	{ "BCC", SK_BCC, A_STR }, { "BODY", SK_BODY, A_STR },
	{ "CC", SK_CC, A_STR }, { "FROM", SK_FROM, A_STR },
	{ "SUBJECT", SK_SUBJECT, A_STR }, { "TEXT", SK_TEXT, A_STR },
	{ "TO", SK_TO, A_STR }, { "HEADER", SK_HEADER, A_ASTR2 },
	{ "BEFORE", SK_BEFORE, A_DATE }, { "ON", SK_ON, A_DATE },
	{ "SINCE", SK_SINCE, A_DATE },
	{ "SENTBEFORE", SK_SENTBEFORE, A_DATE },
	{ "SENTON", SK_SENTON, A_DATE }, { "SENTSINCE", SK_SENTSINCE, A_DATE },
	{ "LARGER", SK_LARGER, A_NUM }, { "SMALLER", SK_SMALLER, A_NUM },
	{ "OLDER", SK_OLDER, A_NUM }, { "YOUNGER", SK_YOUNGER, A_NUM },
	{ "UID", SK_UID, A_SET },
};

static int	lex_search_key(struct lex *, struct imap_search_key **);

/* MODSEQ [SP entry-name SP entry-type-req] SP mod-sequence-valzer */
static int
lex_search_modseq(struct lex *l, struct imap_search_key *k)
{
	if (lex_sp(l) == -1)
		return -1;
	if (lex_peek(l) == '"') {
		if (lex_quoted(l, &k->entry) == -1 || lex_sp(l) == -1)
			return -1;
		k->entry_type.s = l->p;
		if (!lex_word(l, "priv") && !lex_word(l, "shared") &&
		    !lex_word(l, "all"))
			FAIL(l, "Invalid MODSEQ entry type");
		k->entry_type.len = l->p - k->entry_type.s;
		if (lex_sp(l) == -1)
			return -1;
	}
	return lex_u64(l, &k->num, INT64_MAX);
}

static int
lex_search_arg(struct lex *l, struct imap_search_key *k, int arg)
{
	if (arg == A_NONE)
		return 0;
	if (lex_sp(l) == -1)
		return -1;
	switch (arg) {
	case A_STR:
		return lex_astring(l, &k->str);
	case A_ASTR2:
		if (lex_astring(l, &k->str) == -1 || lex_sp(l) == -1)
			return -1;
		return lex_astring(l, &k->value);
	case A_DATE:
		return lex_date(l, &k->date);
	case A_NUM:
		return lex_u64(l, &k->num, k->type == SK_OLDER ||
		    k->type == SK_YOUNGER ? UINT32_MAX : INT64_MAX);
	case A_SET:
		return lex_seqset(l, &k->set);
	case A_FLAG:
		/* RFC 9051 9: flag-keyword, an atom; no system flag. */
		if (lex_peek(l) == '\\')
			FAIL(l, "KEYWORD takes a keyword, not a system flag");
		return lex_flag(l, &k->str);
	}
	return -1;
}

/* A parenthesised list is an AND of its keys; so is the whole line. */
static int
lex_search_list(struct lex *l, struct imap_search_key *and, int inparen)
{
	struct imap_search_key	**tail = &and->child;

	do {
		if (lex_search_key(l, tail) == -1)
			return -1;
		tail = &(*tail)->next;
		if (inparen && lex_peek(l) == ')')
			break;
	} while (lex_try(l, ' '));
	return 0;
}

static int
lex_search_key(struct lex *l, struct imap_search_key **kp)
{
	struct imap_search_key	*k;
	size_t			 i;
	int			 c, r = 0;

	if ((k = *kp = arena_alloc(l, sizeof(*k))) == NULL)
		return -1;
	if (++l->depth > l->lim->depth_max)
		HARDFAIL(l, "Search too deeply nested");
	c = lex_peek(l);
	if (c == '(') {
		k->type = SK_AND;
		l->depth--;	/* lex_open counts it */
		if (lex_open(l) == -1 || lex_search_list(l, k, 1) == -1 ||
		    lex_close(l) == -1)
			return -1;
		l->depth++;
	} else if ((c >= '0' && c <= '9') || c == '*' || c == '$') {
		k->type = SK_SEQSET;
		r = lex_seqset(l, &k->set);
	} else if (lex_word(l, "NOT")) {
		k->type = SK_NOT;
		r = lex_token(l) == -1 || lex_sp(l) == -1 ||
		    lex_search_key(l, &k->child) == -1 ? -1 : 0;
	} else if (lex_word(l, "OR")) {
		k->type = SK_OR;
		r = lex_token(l) == -1 || lex_sp(l) == -1 ||
		    lex_search_key(l, &k->child) == -1 || lex_sp(l) == -1 ||
		    lex_search_key(l, &k->child->next) == -1 ? -1 : 0;
	} else if (lex_word(l, "MODSEQ")) {
		k->type = SK_MODSEQ;
		r = lex_token(l) == -1 ? -1 : lex_search_modseq(l, k);
	} else {
		for (i = 0; i < sizeof(skeys) / sizeof(skeys[0]); i++)
			if (lex_word(l, skeys[i].name))
				break;
		if (i == sizeof(skeys) / sizeof(skeys[0]))
			FAIL(l, "Unknown search key");
		k->type = skeys[i].type;
		r = lex_token(l) == -1 ? -1 :
		    lex_search_arg(l, k, skeys[i].arg);
	}
	l->depth--;
	return r;
}

/* [SP "RETURN" SP "(" [opt *(SP opt)] ")"] */
static int
lex_search_return(struct lex *l, struct imap_search *s)
{
	int	 first = 1;

	s->esearch = 1;
	if (lex_sp(l) == -1 || lex_open(l) == -1)
		return -1;
	while (lex_peek(l) != ')') {
		if (!first && lex_lsp(l) == -1)
			return -1;
		first = 0;
		if (lex_word(l, "MIN"))
			s->ret |= SRET_MIN;
		else if (lex_word(l, "MAX"))
			s->ret |= SRET_MAX;
		else if (lex_word(l, "ALL"))
			s->ret |= SRET_ALL;
		else if (lex_word(l, "COUNT"))
			s->ret |= SRET_COUNT;
		else if (lex_word(l, "SAVE"))
			s->ret |= SRET_SAVE;
		else
			FAIL(l, "Unknown SEARCH return option");
		if (lex_token(l) == -1)
			return -1;
	}
	/* RFC 4731 3.1: RETURN () is RETURN (ALL). */
	if (s->ret == 0)
		s->ret = SRET_ALL;
	return lex_close(l);
}

/* [CHARSET SP astring SP] 1*search-key, charset required when need */
static int
lex_search_criteria(struct lex *l, struct imap_search *s, int need)
{
	if (lex_word(l, "CHARSET")) {
		if (lex_sp(l) == -1 || lex_astring(l, &s->charset) == -1 ||
		    lex_sp(l) == -1)
			return -1;
	} else if (need) {
		if (lex_astring(l, &s->charset) == -1 || lex_sp(l) == -1)
			return -1;
	} else
		s->charset.nil = 1;
	if ((s->key = arena_alloc(l, sizeof(*s->key))) == NULL)
		return -1;
	s->key->type = SK_AND;
	return lex_search_list(l, s->key, 0);
}

static int
p_search(struct lex *l, struct imap_cmd *cmd)
{
	struct imap_search	*s = &cmd->u.search;

	if (lex_sp(l) == -1)
		return -1;
	if (lex_word(l, "RETURN")) {
		if (lex_search_return(l, s) == -1 || lex_sp(l) == -1)
			return -1;
	}
	return lex_search_criteria(l, s, 0);
}

static int
p_sort(struct lex *l, struct imap_cmd *cmd)
{
	static const struct { const char *n; enum imap_sort_key k; } keys[] = {
		{ "ARRIVAL", SORT_ARRIVAL }, { "CC", SORT_CC },
		{ "DATE", SORT_DATE }, { "FROM", SORT_FROM },
		{ "SIZE", SORT_SIZE }, { "SUBJECT", SORT_SUBJECT },
		{ "TO", SORT_TO }, { "DISPLAYFROM", SORT_DISPLAYFROM },
		{ "DISPLAYTO", SORT_DISPLAYTO },
	};
	struct imap_sort	*so = &cmd->u.sort;
	size_t			 i;

	if (lex_sp(l) == -1)
		return -1;
	if (lex_word(l, "RETURN")) {
		if (lex_search_return(l, &so->search) == -1 || lex_sp(l) == -1)
			return -1;
	}
	if (lex_open(l) == -1)
		return -1;
	do {
		if (so->ncrit > 0 && lex_lsp(l) == -1)
			return -1;
		if (so->ncrit == IMAP_SORT_MAX)
			FAIL(l, "Too many sort criteria");
		so->crit[so->ncrit].reverse = lex_word(l, "REVERSE");
		if (so->crit[so->ncrit].reverse && lex_sp(l) == -1)
			return -1;
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (lex_word(l, keys[i].n))
				break;
		if (i == sizeof(keys) / sizeof(keys[0]))
			FAIL(l, "Unknown sort criterion");
		so->crit[so->ncrit++].key = keys[i].k;
		if (lex_token(l) == -1)
			return -1;
	} while (lex_peek(l) != ')');
	if (lex_close(l) == -1 || lex_sp(l) == -1)
		return -1;
	return lex_search_criteria(l, &so->search, 1);
}

static int
p_thread(struct lex *l, struct imap_cmd *cmd)
{
	if (lex_sp(l) == -1)
		return -1;
	if (lex_word(l, "REFERENCES"))
		cmd->u.thread.alg = THREAD_REFERENCES;
	else if (lex_word(l, "ORDEREDSUBJECT"))
		cmd->u.thread.alg = THREAD_ORDEREDSUBJECT;
	else
		FAIL(l, "Unknown THREAD algorithm");
	if (lex_token(l) == -1 || lex_sp(l) == -1)
		return -1;
	return lex_search_criteria(l, &cmd->u.thread.search, 1);
}

/* FETCH attributes (RFC 9051 6.4.5, RFC 3516, RFC 7162). */

static int
lex_header_list(struct lex *l, struct imap_strlist *fl)
{
	struct imap_str	*s;

	if (lex_sp(l) == -1 || lex_open(l) == -1)
		return -1;
	do {
		if (fl->n > 0 && lex_lsp(l) == -1)
			return -1;
		if ((s = PUSH(l, fl->v, fl->n)) == NULL ||
		    lex_astring(l, s) == -1)
			return -1;
	} while (lex_peek(l) != ')');
	return lex_close(l);
}

/* section = "[" [section-spec] "]"; section-binary = "[" [part] "]" */
static int
lex_section(struct lex *l, struct imap_section *sec, int binary)
{
	uint32_t	 n;

	if (lex_char(l, '[', "Expected '['") == -1)
		return -1;
	while (lex_peek(l) >= '0' && lex_peek(l) <= '9') {
		if (sec->npart == IMAP_SECTION_MAX)
			HARDFAIL(l, "Section too deeply nested");
		if (lex_nz32(l, &n) == -1)
			return -1;
		sec->part[sec->npart++] = n;
		if (!lex_try(l, '.'))
			break;
		if (lex_peek(l) < '0' || lex_peek(l) > '9') {
			if (binary)
				FAIL(l, "Invalid BINARY section");
			break;
		}
	}
	if (l->p[-1] != '.' && lex_try(l, ']'))
		return 0;
	if (binary)
		FAIL(l, "Invalid BINARY section");
	if (sec->npart > 0 && l->p[-1] != '.')
		FAIL(l, "Invalid section");
	if ((size_t)(l->end - l->p) >= 18 &&
	    strncasecmp(l->p, "HEADER.FIELDS.NOT", 17) == 0 &&
	    l->p[17] == ' ') {
		l->p += 17;
		sec->text = SEC_HEADER_FIELDS_NOT;
		if (lex_header_list(l, &sec->fields) == -1)
			return -1;
	} else if ((size_t)(l->end - l->p) >= 14 &&
	    strncasecmp(l->p, "HEADER.FIELDS", 13) == 0 && l->p[13] == ' ') {
		l->p += 13;
		sec->text = SEC_HEADER_FIELDS;
		if (lex_header_list(l, &sec->fields) == -1)
			return -1;
	} else if ((size_t)(l->end - l->p) >= 6 &&
	    strncasecmp(l->p, "HEADER", 6) == 0) {
		l->p += 6;
		sec->text = SEC_HEADER;
	} else if ((size_t)(l->end - l->p) >= 4 &&
	    strncasecmp(l->p, "TEXT", 4) == 0) {
		l->p += 4;
		sec->text = SEC_TEXT;
	} else if (sec->npart > 0 && (size_t)(l->end - l->p) >= 4 &&
	    strncasecmp(l->p, "MIME", 4) == 0) {
		l->p += 4;
		sec->text = SEC_MIME;
	} else
		FAIL(l, "Invalid section");
	return lex_char(l, ']', "Invalid section");
}

/* partial = "<" number "." nz-number ">" */
static int
lex_partial(struct lex *l, struct imap_fetch_att *a)
{
	if (!lex_try(l, '<'))
		return 0;
	a->partial = 1;
	if (lex_u32(l, &a->offset) == -1 ||
	    lex_char(l, '.', "Invalid partial") == -1 ||
	    lex_nz32(l, &a->count) == -1 ||
	    lex_char(l, '>', "Invalid partial") == -1)
		REFAIL(l, "Invalid partial");
	return 0;
}

static int
lex_fetch_att(struct lex *l, struct imap_fetch_att *a)
{
	static const struct {
		const char		*n;
		enum imap_fetch_item	 it;
	} plain[] = {
		{ "FLAGS", FA_FLAGS }, { "INTERNALDATE", FA_INTERNALDATE },
		{ "RFC822.SIZE", FA_RFC822_SIZE }, { "ENVELOPE", FA_ENVELOPE },
		{ "BODYSTRUCTURE", FA_BODYSTRUCTURE }, { "UID", FA_UID },
		{ "RFC822.HEADER", FA_RFC822_HEADER },
		{ "RFC822.TEXT", FA_RFC822_TEXT }, { "RFC822", FA_RFC822 },
		{ "MODSEQ", FA_MODSEQ }, { "BODY", FA_BODY },
	};
	const char	*start = l->p;
	size_t		 n, i;

	while (l->p < l->end && (isalnum((unsigned char)*l->p) ||
	    *l->p == '.'))
		l->p++;
	n = l->p - start;
	if (lex_token(l) == -1)
		return -1;
#define NAME_IS(w)	(n == strlen(w) && strncasecmp(start, (w), n) == 0)
	if (lex_peek(l) == '[') {
		if (NAME_IS("BODY") || NAME_IS("BODY.PEEK")) {
			a->item = FA_BODY_SECTION;
			a->peek = n == 9;
			if (lex_section(l, &a->sec, 0) == -1)
				return -1;
		} else if (NAME_IS("BINARY") || NAME_IS("BINARY.PEEK")) {
			a->item = FA_BINARY;
			a->peek = n == 11;
			if (lex_section(l, &a->sec, 1) == -1)
				return -1;
		} else if (NAME_IS("BINARY.SIZE")) {
			a->item = FA_BINARY_SIZE;
			return lex_section(l, &a->sec, 1);
		} else
			FAIL(l, "Unknown FETCH attribute");
		return lex_partial(l, a);
	}
	for (i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
		if (NAME_IS(plain[i].n)) {
			a->item = plain[i].it;
			return 0;
		}
#undef NAME_IS
	FAIL(l, "Unknown FETCH attribute");
}

static int
fetch_macro(struct lex *l, struct imap_fetch *f)
{
	static const enum imap_fetch_item all[] = { FA_FLAGS, FA_INTERNALDATE,
	    FA_RFC822_SIZE, FA_ENVELOPE, FA_BODY };
	int	 n, i;

	if (lex_word(l, "FAST"))
		n = 3;
	else if (lex_word(l, "ALL"))
		n = 4;
	else if (lex_word(l, "FULL"))
		n = 5;
	else
		return 0;
	if ((f->att = arena_alloc(l, sizeof(*f->att) * n)) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		f->att[i].item = all[i];
	f->natt = n;
	return lex_token(l) == -1 ? -1 : 1;
}

/* [SP "(" modifier *(SP modifier) ")"]: CHANGEDSINCE n, VANISHED */
static int
lex_fetch_modifiers(struct lex *l, struct imap_fetch *f)
{
	int	 first = 1;

	if (lex_open(l) == -1)
		return -1;
	do {
		if (!first && lex_lsp(l) == -1)
			return -1;
		first = 0;
		if (lex_word(l, "CHANGEDSINCE")) {
			f->changedsince_set = 1;
			if (lex_sp(l) == -1 ||
			    lex_u64(l, &f->changedsince, INT64_MAX) == -1)
				return -1;
			if (f->changedsince == 0)
				FAIL(l, "Invalid CHANGEDSINCE");
		} else if (lex_word(l, "VANISHED"))
			f->vanished = 1;
		else
			FAIL(l, "Unknown FETCH modifier");
		if (lex_token(l) == -1)
			return -1;
	} while (lex_peek(l) != ')');
	/* RFC 7162 3.2.6: VANISHED needs CHANGEDSINCE. */
	if (f->vanished && !f->changedsince_set)
		FAIL(l, "VANISHED without CHANGEDSINCE");
	return lex_close(l);
}

static int
p_fetch(struct lex *l, struct imap_cmd *cmd)
{
	struct imap_fetch	*f = &cmd->u.fetch;
	struct imap_fetch_att	*a;
	int			 r;

	if (lex_sp(l) == -1 || lex_seqset(l, &f->set) == -1 ||
	    lex_sp(l) == -1)
		return -1;
	if ((r = fetch_macro(l, f)) == -1)
		return -1;
	if (r == 0 && lex_peek(l) == '(') {
		if (lex_open(l) == -1)
			return -1;
		do {
			if (f->natt > 0 && lex_lsp(l) == -1)
				return -1;
			if ((a = PUSH(l, f->att, f->natt)) == NULL ||
			    lex_fetch_att(l, a) == -1)
				return -1;
		} while (lex_peek(l) != ')');
		if (lex_close(l) == -1)
			return -1;
	} else if (r == 0 && ((a = PUSH(l, f->att, f->natt)) == NULL ||
	    lex_fetch_att(l, a) == -1))
		return -1;
	if (lex_try(l, ' ') && lex_fetch_modifiers(l, f) == -1)
		return -1;
	if (f->vanished && !cmd->uid)
		FAIL(l, "VANISHED needs UID FETCH");
	return 0;
}

/* STORE set [SP "(" UNCHANGEDSINCE n ")"] SP [+-]FLAGS[.SILENT] SP flags */
static int
p_store(struct lex *l, struct imap_cmd *cmd)
{
	struct imap_store	*st = &cmd->u.store;
	struct imap_str		*s;

	if (lex_sp(l) == -1 || lex_seqset(l, &st->set) == -1 ||
	    lex_sp(l) == -1)
		return -1;
	if (lex_peek(l) == '(') {
		if (lex_open(l) == -1)
			return -1;
		if (!lex_word(l, "UNCHANGEDSINCE"))
			FAIL(l, "Unknown STORE modifier");
		st->unchangedsince_set = 1;
		if (lex_sp(l) == -1 ||
		    lex_u64(l, &st->unchangedsince, INT64_MAX) == -1 ||
		    lex_close(l) == -1 || lex_sp(l) == -1)
			return -1;
	}
	st->op = lex_try(l, '+') ? STORE_ADD : lex_try(l, '-') ?
	    STORE_REMOVE : STORE_SET;
	if (lex_word(l, "FLAGS"))
		st->silent = 0;
	else if (lex_word(l, "FLAGS.SILENT"))
		st->silent = 1;
	else
		FAIL(l, "Expected FLAGS or FLAGS.SILENT");
	if (lex_token(l) == -1 || lex_sp(l) == -1)
		return -1;
	if (lex_peek(l) == '(')
		return lex_flag_list(l, &st->flags);
	do {
		if (st->flags.n > 0 && lex_lsp(l) == -1)
			return -1;
		if ((s = PUSH(l, st->flags.v, st->flags.n)) == NULL ||
		    lex_flag(l, s) == -1)
			return -1;
	} while (lex_peek(l) == ' ');
	return 0;
}

static int
p_copy(struct lex *l, struct imap_cmd *cmd)
{
	if (lex_sp(l) == -1 || lex_seqset(l, &cmd->u.copy.set) == -1 ||
	    lex_sp(l) == -1 || lex_mailbox(l, &cmd->u.copy.mailbox) == -1)
		return -1;
	return 0;
}

static int
p_getquota(struct lex *l, struct imap_cmd *cmd)
{
	if (lex_sp(l) == -1 || lex_astring(l, &cmd->u.quotaroot) == -1)
		return -1;
	return 0;
}

/* SETQUOTA root SP "(" [name SP number64 *(SP name SP number64)] ")" */
static int
p_setquota(struct lex *l, struct imap_cmd *cmd)
{
	struct imap_setquota	*q = &cmd->u.setquota;
	struct imap_quota_res	*r;

	if (lex_sp(l) == -1 || lex_astring(l, &q->root) == -1 ||
	    lex_sp(l) == -1 || lex_open(l) == -1)
		return -1;
	while (lex_peek(l) != ')') {
		if (q->nres > 0 && lex_lsp(l) == -1)
			return -1;
		if ((r = PUSH(l, q->res, q->nres)) == NULL ||
		    lex_atom(l, &r->name, 0) == -1 || lex_sp(l) == -1 ||
		    lex_u64(l, &r->limit, INT64_MAX) == -1)
			return -1;
	}
	return lex_close(l);
}

static int
p_compress(struct lex *l, struct imap_cmd *cmd)
{
	if (lex_sp(l) == -1 || lex_atom(l, &cmd->u.compress, 0) == -1)
		return -1;
	return 0;
}

/* ID ("(" string SP nstring *(SP string SP nstring) ")" / NIL), RFC 2971 */
static int
p_id(struct lex *l, struct imap_cmd *cmd)
{
	struct imap_strlist	*id = &cmd->u.id;
	struct imap_str		*k, *v;

	if (lex_sp(l) == -1)
		return -1;
	if (lex_word(l, "NIL"))
		return lex_token(l);
	if (lex_open(l) == -1)
		return -1;
	do {
		if (id->n > 0 && lex_lsp(l) == -1)
			return -1;
		if (id->n >= 60)
			FAIL(l, "Too many ID fields");
		if ((k = PUSH(l, id->v, id->n)) == NULL ||
		    lex_string(l, k) == -1 || lex_sp(l) == -1)
			return -1;
		if (k->len > 30)
			FAIL(l, "ID field name too long");
		if ((v = PUSH(l, id->v, id->n)) == NULL ||
		    lex_nstring(l, v) == -1)
			return -1;
		if (v->len > 1024)
			FAIL(l, "ID field value too long");
	} while (lex_peek(l) != ')');
	return lex_close(l);
}

/* tag = 1*<any ASTRING-CHAR except "+"> */
static int
lex_tag(struct lex *l, struct imap_cmd *cmd)
{
	const char	*start = l->p;
	size_t		 n;

	while (l->p < l->end && *l->p != '+' &&
	    atom_char((unsigned char)*l->p, ATOM_ASTRING))
		l->p++;
	n = l->p - start;
	if (n == 0 || n > IMAP_TAG_MAX || (lex_peek(l) != ' ' &&
	    lex_peek(l) != '\r'))
		FAIL(l, "Invalid tag");
	memcpy(cmd->tag, start, n);
	cmd->tag[n] = '\0';
	return 0;
}

static int
lex_verb(struct lex *l, struct imap_cmd *cmd)
{
	int	 v;

	if (lex_word(l, "UID")) {
		cmd->uid = 1;
		if (lex_sp(l) == -1)
			return -1;
	}
	for (v = 0; v < IC_NVERBS; v++)
		if (lex_word(l, imap_cmds[v].name))
			break;
	if (v == IC_NVERBS)
		FAIL(l, cmd->uid ? "Unknown UID command" : "Unknown command");
	if (cmd->uid && !imap_cmds[v].uid)
		FAIL(l, "Unknown UID command");
	cmd->verb = v;
	return lex_token(l);
}

int
imap_parse_command(const char *buf, size_t len,
    const struct imap_limits *lim, struct imap_cmd *cmd, const char **err)
{
	struct lex	 l;

	memset(cmd, 0, sizeof(*cmd));
	memset(&l, 0, sizeof(l));
	l.p = buf;
	l.end = buf + len;
	l.lim = lim;
	l.cmd = cmd;
	/* The reader gives lines ending in CRLF; so must any caller. */
	if (len < 2 || buf[len - 2] != '\r' || buf[len - 1] != '\n')
		l.err = "Command not ended by CRLF";
	else if (lex_tag(&l, cmd) == 0 && lex_peek(&l) == '\r')
		l.err = "Missing command";
	else if (l.err == NULL && lex_sp(&l) == 0 &&
	    lex_verb(&l, cmd) == 0 &&
	    imap_cmds[cmd->verb].parse(&l, cmd) == 0 && lex_eol(&l) == 0)
		return 0;
	if (l.err == NULL)
		l.err = "Invalid arguments";
	*err = l.err;
	return -1;
}
