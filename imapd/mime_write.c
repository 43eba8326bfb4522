/*
 * mime_write: what FETCH sends from a parsed message (RFC 9051 7.5.2):
 * BODYSTRUCTURE with its extension data and BODY without, ENVELOPE
 * with RFC 5322 address lists and groups (encoded-words left as they
 * are), the strings in them quoted or as literals as their bytes
 * need, and section contents with every line end sent as CRLF.
 */

#include <sys/types.h>

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap_string.h"
#include "mime.h"

/*
 * Characters go out with putc_unlocked(3): a process has one thread,
 * and the lock fputc(3) takes per call was a tenth of a cold FETCH
 * (perf, after the runs of write_string()).
 */

/*
 * How Dovecot writes strings, which clients have long seen: quoted
 * when it can be, a literal for CR, LF, NUL and 8-bit bytes; in
 * ENVELOPE ("how" WS_ENVELOPE) a literal for '"' and '\\' too, where
 * BODYSTRUCTURE escapes them; WS_LITERAL always a literal.
 */
#define WS_BODY		0
#define WS_ENVELOPE	IMAP_STR_NOESCAPE
#define WS_LITERAL	IMAP_STR_LITERAL

static void
write_string(FILE *f, const char *s, size_t n, int how)
{
	imap_string(f, s, n, how);
}

void
mime_write_string(FILE *f, const char *s, size_t n)
{
	write_string(f, s, n, WS_BODY);
}

static void
write_nstring(FILE *f, const char *s, int how)
{
	if (s == NULL)
		fputs("NIL", f);
	else
		write_string(f, s, strlen(s), how);
}

void
mime_write_nstring(FILE *f, const char *s)
{
	write_nstring(f, s, WS_BODY);
}

/* With charset set, a text part without one gets charset us-ascii. */
static void
write_params(FILE *f, const struct mime_param *v, int n, int charset)
{
	int	 i;

	for (i = 0; i < n && charset; i++)
		if (strcasecmp(v[i].name, "charset") == 0)
			charset = 0;
	if (n == 0 && !charset) {
		fputs("NIL", f);
		return;
	}
	putc_unlocked('(', f);
	for (i = 0; i < n; i++) {
		if (i > 0)
			putc_unlocked(' ', f);
		mime_write_nstring(f, v[i].name);
		putc_unlocked(' ', f);
		mime_write_nstring(f, v[i].value);
	}
	if (charset)
		fputs(n > 0 ? " \"charset\" \"us-ascii\"" :
		    "\"charset\" \"us-ascii\"", f);
	putc_unlocked(')', f);
}

/* A header field of the part as an nstring: NIL when absent. */
static void
write_field(FILE *f, const struct mime_msg *m, const struct mime_part *p,
    const char *name, int how)
{
	char	*v = NULL;
	int	 folded;

	/* Content-* fields of a message that is not MIME do not count. */
	if (!p->is_mime && strncasecmp(name, "Content-", 8) == 0) {
		fputs("NIL", f);
		return;
	}
	if (mime_header_get(m, &p->header, name, &v, &folded) == 0) {
		write_string(f, v, strlen(v), how);
		free(v);
	} else
		fputs("NIL", f);
}

static void
write_disposition(FILE *f, const struct mime_part *p)
{
	if (p->disposition == NULL) {
		fputs("NIL", f);
		return;
	}
	putc_unlocked('(', f);
	mime_write_nstring(f, p->disposition);
	putc_unlocked(' ', f);
	write_params(f, p->disp_params, p->ndisp_params, 0);
	putc_unlocked(')', f);
}

/* Comments out of a header value, in place (nested, with escapes). */
static void
strip_comments(char *s)
{
	char	*o = s;
	int	 depth = 0;

	for (; *s != '\0'; s++) {
		if (depth > 0 && *s == '\\' && s[1] != '\0')
			s++;
		else if (*s == '(')
			depth++;
		else if (*s == ')' && depth > 0)
			depth--;
		else if (depth == 0)
			*o++ = *s;
	}
	*o = '\0';
}

/* Content-Language: a list of its tags. */
static void
write_language(FILE *f, const struct mime_msg *m, const struct mime_part *p)
{
	char	*v, *w, *save, *words[32];
	int	 n = 0, i;

	if (!p->is_mime || mime_header_get(m, &p->header,
	    "Content-Language", &v, NULL) == -1) {
		fputs("NIL", f);
		return;
	}
	strip_comments(v);
	for (w = strtok_r(v, " \t,", &save); w != NULL && n < 32;
	    w = strtok_r(NULL, " \t,", &save))
		words[n++] = w;
	if (n == 0)
		fputs("NIL", f);
	else {
		putc_unlocked('(', f);
		for (i = 0; i < n; i++) {
			if (i > 0)
				putc_unlocked(' ', f);
			mime_write_nstring(f, words[i]);
		}
		putc_unlocked(')', f);
	}
	free(v);
}

static void
write_ext(FILE *f, const struct mime_msg *m, const struct mime_part *p)
{
	putc_unlocked(' ', f);
	write_disposition(f, p);
	putc_unlocked(' ', f);
	write_language(f, m, p);
	putc_unlocked(' ', f);
	write_field(f, m, p, "Content-Location", WS_BODY);
}

static int	write_body(FILE *, const struct mime_msg *,
		    const struct mime_part *, int, int);

static void
write_single(FILE *f, const struct mime_msg *m, const struct mime_part *p,
    int ext, int depth)
{
	struct mime_part	*child;
	char			*enc = NULL;
	int			 text;

	if (p->type == NULL) {
		fputs("\"text\" \"plain\" (\"charset\" \"us-ascii\")", f);
		text = 1;
	} else {
		mime_write_nstring(f, p->type);
		putc_unlocked(' ', f);
		mime_write_nstring(f, p->subtype);
		putc_unlocked(' ', f);
		text = strcasecmp(p->type, "text") == 0;
		write_params(f, p->params, p->nparams, text);
	}
	putc_unlocked(' ', f);
	write_field(f, m, p, "Content-ID", WS_BODY);
	putc_unlocked(' ', f);
	write_field(f, m, p, "Content-Description", WS_BODY);
	putc_unlocked(' ', f);
	if (p->is_mime && mime_header_get(m, &p->header,
	    "Content-Transfer-Encoding", &enc, NULL) == 0 && *enc != '\0')
		mime_write_nstring(f, enc);
	else
		fputs("\"7bit\"", f);
	free(enc);
	fprintf(f, " %zu", p->body.vsize);
	if (p->is_message && (child = TAILQ_FIRST(&p->children)) != NULL) {
		putc_unlocked(' ', f);
		mime_write_envelope(f, m, child);
		putc_unlocked(' ', f);
		write_body(f, m, child, ext, depth + 1);
		fprintf(f, " %zu", p->body.lines);
	} else if (text)
		fprintf(f, " %zu", p->body.lines);
	if (!ext)
		return;
	putc_unlocked(' ', f);
	write_field(f, m, p, "Content-MD5", WS_BODY);
	write_ext(f, m, p);
}

static int
write_body(FILE *f, const struct mime_msg *m, const struct mime_part *p,
    int ext, int depth)
{
	struct mime_part	*c;

	putc_unlocked('(', f);
	if (p->is_multipart && p->nchildren > 0) {
		TAILQ_FOREACH(c, &p->children, entry)
			write_body(f, m, c, ext, depth + 1);
		putc_unlocked(' ', f);
		mime_write_nstring(f, p->subtype);
		if (ext) {
			putc_unlocked(' ', f);
			write_params(f, p->params, p->nparams, 0);
			write_ext(f, m, p);
		}
	} else
		write_single(f, m, p, ext, depth);
	putc_unlocked(')', f);
	return ferror(f) ? -1 : 0;
}

int
mime_write_bodystructure(FILE *f, const struct mime_msg *m,
    const struct mime_part *p, int ext)
{
	return write_body(f, m, p, ext, 0);
}

/* Addresses (RFC 5322 3.4) for ENVELOPE. */

struct addr_lex {
	const char	*p;
	char		*comment;	/* the last comment, for a name */
	int		 error;		/* unreadable: the list ends */
};

struct addr_out {
	FILE		*f;
	int		 n;		/* addresses written */
	struct mime_addr *first;	/* mime_first_addr() */
};

static void
addr_skip(struct addr_lex *l)
{
	const char	*start;
	int		 depth;

	for (;;) {
		while (*l->p == ' ' || *l->p == '\t' || *l->p == '\r' ||
		    *l->p == '\n')
			l->p++;
		if (*l->p != '(')
			return;
		start = l->p + 1;
		for (depth = 0; *l->p != '\0'; l->p++) {
			if (*l->p == '\\' && l->p[1] != '\0')
				l->p++;
			else if (*l->p == '(')
				depth++;
			else if (*l->p == ')' && --depth == 0)
				break;
		}
		free(l->comment);
		l->comment = strndup(start, l->p - start);
		if (*l->p == ')')
			l->p++;
	}
}

/*
 * One word of a phrase or local part appended to buf: an atom (dots
 * too, for obs-phrase) or a quoted string, unquoted.
 */
static int
addr_word(struct addr_lex *l, char *buf, size_t size, int dots)
{
	size_t	 o = strlen(buf);
	int	 got = 0;

	addr_skip(l);
	if (*l->p == '"') {
		for (l->p++; *l->p != '\0' && *l->p != '"'; l->p++) {
			if (*l->p == '\\' && l->p[1] != '\0')
				l->p++;
			if (*l->p == '\r' || *l->p == '\n')
				continue;
			if (o + 1 < size)
				buf[o++] = *l->p;
		}
		if (*l->p == '"')
			l->p++;
		got = 1;
	} else {
		while (*l->p != '\0' && ((unsigned char)*l->p >= 0x80 ||
		    (*l->p > 0x20 && *l->p < 0x7f &&
		    strchr("()<>[]:;@\\,\"", *l->p) == NULL &&
		    (dots || *l->p != '.')))) {
			if (o + 1 < size)
				buf[o++] = *l->p;
			l->p++;
			got = 1;
		}
	}
	buf[o] = '\0';
	return got;
}

/* A phrase: words joined by one space. */
static int
addr_phrase(struct addr_lex *l, char *buf, size_t size)
{
	size_t	 o;
	int	 n = 0;

	buf[0] = '\0';
	for (;;) {
		o = strlen(buf);
		if (n > 0 && o + 1 < size) {
			buf[o] = ' ';
			buf[o + 1] = '\0';
		}
		if (!addr_word(l, buf, size, 1)) {
			buf[o] = '\0';
			break;
		}
		n++;
	}
	return n;
}

/* local-part "@" domain, the domain literal [..] kept whole. */
static void
addr_spec(struct addr_lex *l, char *local, char *domain, size_t size)
{
	size_t	 o;

	local[0] = domain[0] = '\0';
	/* One dot-atom or quoted string; Dovecot takes no obs-local-part. */
	(void)addr_word(l, local, size, 1);
	addr_skip(l);
	if (*l->p != '@')
		return;
	l->p++;
	addr_skip(l);
	if (*l->p == '[') {
		for (o = 0; *l->p != '\0' && *l->p != ']'; l->p++)
			if (o + 2 < size)
				domain[o++] = *l->p;
		if (*l->p == ']')
			l->p++;
		domain[o++] = ']';
		domain[o] = '\0';
		return;
	}
	(void)addr_word(l, domain, size, 1);
}

static void
write_address(struct addr_out *o, const char *name, const char *route,
    const char *local, const char *domain)
{
	if (o->first != NULL && !o->first->found) {
		o->first->found = 1;
		strlcpy(o->first->name, name != NULL ? name : "",
		    sizeof(o->first->name));
		if (strcmp(local, "MISSING_MAILBOX") != 0)
			strlcpy(o->first->local, local,
			    sizeof(o->first->local));
		if (strcmp(domain, "MISSING_DOMAIN") != 0 &&
		    strcmp(domain, "SYNTAX_ERROR") != 0)
			strlcpy(o->first->domain, domain,
			    sizeof(o->first->domain));
	}
	if (o->n++ == 0)
		putc_unlocked('(', o->f);
	putc_unlocked('(', o->f);
	write_nstring(o->f, name != NULL && *name != '\0' ? name : NULL,
	    WS_ENVELOPE);
	putc_unlocked(' ', o->f);
	write_nstring(o->f, route != NULL && *route != '\0' ? route : NULL,
	    WS_ENVELOPE);
	putc_unlocked(' ', o->f);
	write_nstring(o->f, local, WS_ENVELOPE);
	putc_unlocked(' ', o->f);
	write_nstring(o->f, domain, WS_ENVELOPE);
	putc_unlocked(')', o->f);
}

#define ADDR_PART_MAX	1024

static const char *
skip_to_word(const char *s)
{
	struct addr_lex	 l = { s, NULL, 0 };

	addr_skip(&l);
	free(l.comment);
	return l.p;
}

/* One mailbox: [phrase] "<" [route ":"] addr-spec ">" / addr-spec. */
static int
addr_mailbox(struct addr_lex *l, struct addr_out *o)
{
	char		 phrase[ADDR_PART_MAX], local[ADDR_PART_MAX];
	char		 domain[ADDR_PART_MAX], route[ADDR_PART_MAX];
	const char	*start = l->p, *name;
	size_t		 r = 0;
	int		 angle = 0;

	free(l->comment);
	l->comment = NULL;
	route[0] = '\0';
	(void)addr_phrase(l, phrase, sizeof(phrase));
	addr_skip(l);
	if (*l->p == '<') {
		angle = 1;
		l->p++;
		addr_skip(l);
		/* obs-route: @a,@b: */
		while (*l->p == '@' || *l->p == ',') {
			while (*l->p != '\0' && *l->p != ':' && *l->p != '>' &&
			    r + 1 < sizeof(route))
				route[r++] = *l->p++;
			route[r] = '\0';
			if (*l->p == ':')
				l->p++;
			addr_skip(l);
		}
		addr_spec(l, local, domain, sizeof(local));
		addr_skip(l);
		if (*l->p != '>') {
			/* Dovecot's mark for what it could not read. */
			write_address(o, NULL, NULL, "MISSING_MAILBOX",
			    "SYNTAX_ERROR");
			l->error = 1;
			return 1;
		}
		if (*l->p == '>')
			l->p++;
		name = phrase;
	} else {
		/* No angle brackets: it was an addr-spec, read it again. */
		l->p = start;
		free(l->comment);
		l->comment = NULL;
		addr_spec(l, local, domain, sizeof(local));
		addr_skip(l);
		name = l->comment;
		if (domain[0] == '\0' && ((*l->p != ',' && *l->p != ';' &&
		    *l->p != '\0') || *skip_to_word(start) == '"')) {
			/*
			 * Not an addr-spec either ("a b c", "\"a\".b", a
			 * quoted string alone): the words up to there are a
			 * name without an address.
			 */
			l->p = start;
			phrase[0] = '\0';
			while (addr_word(l, phrase, sizeof(phrase), 0) &&
			    strlen(phrase) + 1 < sizeof(phrase)) {
				addr_skip(l);
				if (*l->p == '.' || *l->p == ',' ||
				    *l->p == ';' ||
				    *l->p == '\0' || *l->p == '@')
					break;
				strlcat(phrase, " ", sizeof(phrase));
			}
			if (l->p == start)
				return 0;	/* nothing readable here */
			write_address(o, phrase, NULL, "MISSING_MAILBOX",
			    "MISSING_DOMAIN");
			return 1;
		}
	}
	if (!angle && local[0] == '\0' && domain[0] == '\0' &&
	    phrase[0] == '\0')
		return 0;
	write_address(o, name, route, local[0] != '\0' ? local :
	    "MISSING_MAILBOX", domain[0] != '\0' ? domain : "MISSING_DOMAIN");
	return 1;
}

/* The addresses of one field's value, added to o. */
static void
addr_list(struct addr_out *o, const char *s)
{
	struct addr_lex	 l = { s, NULL, 0 };
	FILE		*f = o->f;
	char		 phrase[ADDR_PART_MAX];
	const char	*start;
	int		 had = 0;	/* an address since the last comma */

	while (*l.p != '\0' && !l.error) {
		addr_skip(&l);
		if (*l.p == ',') {
			/* ", a" and "a, , b": Dovecot shows the empty one. */
			if (!had)
				write_address(o, NULL, NULL,
				    "MISSING_MAILBOX", "MISSING_DOMAIN");
			had = 0;
			l.p++;
			continue;
		}
		if (*l.p == '\0')
			break;
		had = 1;
		start = l.p;
		(void)addr_phrase(&l, phrase, sizeof(phrase));
		addr_skip(&l);
		if (*l.p == ':') {
			/* (NIL NIL group NIL) members (NIL NIL NIL NIL) */
			l.p++;
			if (o->n++ == 0)
				putc_unlocked('(', f);
			fputs("(NIL NIL ", f);
			write_nstring(f, phrase, WS_ENVELOPE);
			fputs(" NIL)", f);
			o->n++;
			for (;;) {
				addr_skip(&l);
				if (*l.p == ',') {
					l.p++;
					continue;
				}
				if (*l.p == ';' || *l.p == '\0' || l.error)
					break;
				start = l.p;
				/* Always move on, whatever was there. */
				(void)addr_mailbox(&l, o);
				if (l.p == start)
					l.p++;
				addr_skip(&l);
				if (*l.p != ',' && *l.p != ';' && *l.p != '\0')
					l.error = 1;
			}
			if (*l.p == ';')
				l.p++;
			fputs("(NIL NIL NIL NIL)", f);
			continue;
		}
		l.p = start;
		(void)addr_mailbox(&l, o);
		if (l.p == start)
			l.p++;
		/* Something after an address that is no comma ends the list. */
		addr_skip(&l);
		if (*l.p != ',' && *l.p != '\0')
			break;
	}
	free(l.comment);
}

/*
 * The addresses of every field called name (Dovecot joins repeated
 * ones) as an address list; 0 when there is such a field but no
 * address, -1 when there is no such field.
 */
static int
addr_fields(FILE *f, const struct mime_msg *m, const struct mime_part *p,
    const char *name)
{
	struct addr_out	 o = { f, 0, NULL };
	char		*v;
	int		 i;

	for (i = 0; i < 64 && mime_header_get_nth(m, &p->header, name, i, &v,
	    NULL) == 0; i++) {
		addr_list(&o, v);
		free(v);
	}
	if (o.n > 0)
		putc_unlocked(')', f);
	return i == 0 ? -1 : o.n;
}

/*
 * The first address of the fields called name, read as ENVELOPE reads
 * it (SORT FROM and friends, RFC 5256): 0, or -1 when there is none.
 */
int
mime_first_addr(const struct mime_msg *m, const struct mime_part *p,
    const char *name, struct mime_addr *a)
{
	struct addr_out	 o;
	char		*out = NULL, *v;
	size_t		 len;
	int		 i;

	memset(a, 0, sizeof(*a));
	memset(&o, 0, sizeof(o));
	o.first = a;
	if ((o.f = open_memstream(&out, &len)) == NULL)
		return -1;
	for (i = 0; i < 64 && !a->found && mime_header_get_nth(m, &p->header,
	    name, i, &v, NULL) == 0; i++) {
		addr_list(&o, v);
		free(v);
	}
	fclose(o.f);
	free(out);
	return a->found ? 0 : -1;
}

/* Sender and Reply-To with no address in them are From's. */
static void
write_addr_field(FILE *f, const struct mime_msg *m, const struct mime_part *p,
    const char *name, const char *fallback)
{
	char	*out = NULL;
	size_t	 len;
	FILE	*mf;
	int	 r;

	if (fallback == NULL) {
		if (addr_fields(f, m, p, name) <= 0)
			fputs("NIL", f);
		return;
	}
	if ((mf = open_memstream(&out, &len)) == NULL) {
		fputs("NIL", f);
		return;
	}
	r = addr_fields(mf, m, p, name);
	fclose(mf);
	if (r <= 0)
		write_addr_field(f, m, p, fallback, NULL);
	else if (out != NULL)
		fwrite(out, 1, len, f);
	free(out);
}

/*
 * The subject as Dovecot gives it: runs of blanks and line ends as one
 * space, none at the end; a literal when that changed anything.
 */
static void
write_subject(FILE *f, const struct mime_msg *m, const struct mime_part *p)
{
	char	*v, *o, *i;
	int	 folded, changed;

	if (mime_header_get(m, &p->header, "Subject", &v, &folded) == -1) {
		fputs("NIL", f);
		return;
	}
	changed = folded;
	for (i = o = v; *i != '\0'; i++) {
		if (*i == ' ' || *i == '\t' || *i == '\r') {
			if (*i != ' ' || (o > v && o[-1] == ' '))
				changed = 1;
			if (o > v && o[-1] == ' ')
				continue;
			*o++ = ' ';
		} else
			*o++ = *i;
	}
	if (o > v && o[-1] == ' ') {
		o--;
		changed = 1;
	}
	*o = '\0';
	write_string(f, v, o - v, changed ? WS_LITERAL : WS_ENVELOPE);
	free(v);
}

int
mime_write_envelope(FILE *f, const struct mime_msg *m,
    const struct mime_part *p)
{
	putc_unlocked('(', f);
	write_field(f, m, p, "Date", WS_ENVELOPE);
	putc_unlocked(' ', f);
	write_subject(f, m, p);
	putc_unlocked(' ', f);
	write_addr_field(f, m, p, "From", NULL);
	putc_unlocked(' ', f);
	write_addr_field(f, m, p, "Sender", "From");
	putc_unlocked(' ', f);
	write_addr_field(f, m, p, "Reply-To", "From");
	putc_unlocked(' ', f);
	write_addr_field(f, m, p, "To", NULL);
	putc_unlocked(' ', f);
	write_addr_field(f, m, p, "Cc", NULL);
	putc_unlocked(' ', f);
	write_addr_field(f, m, p, "Bcc", NULL);
	putc_unlocked(' ', f);
	write_field(f, m, p, "In-Reply-To", WS_ENVELOPE);
	putc_unlocked(' ', f);
	write_field(f, m, p, "Message-ID", WS_ENVELOPE);
	putc_unlocked(')', f);
	return ferror(f) ? -1 : 0;
}

/* Sections (RFC 9051 6.4.5, BODY[section]). */

/*
 * The range a section names: BODY[] (n 0) the whole message, BODY[1.2]
 * a part's body (a message/rfc822 part: its whole message), .MIME its
 * header, .HEADER and .TEXT those of the message at that point.
 * -1 when the message has no such part.
 */
int
mime_section_range(struct mime_msg *m, const uint32_t *sec, int n,
    enum mime_text text, struct mime_range *r)
{
	struct mime_part	*p, *msg;
	size_t			 off, end;

	if ((p = mime_section_part(m, sec, n)) == NULL)
		return -1;
	if (text == MT_MIME) {
		if (n == 0)
			return -1;
		*r = p->header;
		return 0;
	}
	msg = p;
	if (n > 0) {
		if (text != MT_NONE) {
			/* HEADER and TEXT are of a message/rfc822 part. */
			if (!p->is_message ||
			    (msg = TAILQ_FIRST(&p->children)) == NULL)
				return -1;
		} else {
			*r = p->body;
			return 0;
		}
	}
	switch (text) {
	case MT_NONE:
		off = msg->header.off;
		end = msg->body.off + msg->body.len;
		break;
	case MT_HEADER:
	case MT_HEADER_FIELDS:
	case MT_HEADER_FIELDS_NOT:
		*r = msg->header;
		return 0;
	case MT_TEXT:
		*r = msg->body;
		return 0;
	default:
		return -1;
	}
	r->off = off;
	r->len = end - off;
	r->vsize = msg->header.vsize + msg->body.vsize;
	r->lines = msg->header.lines + msg->body.lines;
	/* A body cut by a boundary drops a line end between the two. */
	return 0;
}

/*
 * Write bytes [skip, skip + max) of s as IMAP sees it: bare LF as CRLF
 * and, since a literal cannot hold NUL, NUL as 0x80 as Dovecot sends
 * it (BINARY, with literal8, would keep it); the number of bytes
 * written.
 */
size_t
mime_write_crlf(FILE *f, const char *s, size_t n, size_t skip, size_t max)
{
	size_t	 i, v = 0, out = 0;

	for (i = 0; i < n && out < max; i++) {
		if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) {
			if (v >= skip && out < max) {
				putc_unlocked('\r', f);
				out++;
			}
			v++;
			if (out >= max)
				break;
		}
		if (v >= skip) {
			putc_unlocked(s[i] == '\0' ? 0x80 : s[i], f);
			out++;
		}
		v++;
	}
	return out;
}

static int
field_listed(const char *name, size_t len, const char *const *names, int n)
{
	int	 i;

	for (i = 0; i < n; i++)
		if (strlen(names[i]) == len &&
		    strncasecmp(names[i], name, len) == 0)
			return 1;
	return 0;
}

/*
 * HEADER.FIELDS (not: HEADER.FIELDS.NOT): the fields of the header
 * range that are (not) listed, whole with their folded lines, then the
 * blank line.  Written with CRLF; returns the size written.
 */
size_t
mime_write_fields(FILE *f, const struct mime_msg *m,
    const struct mime_range *h, const char *const *names, int n, int not)
{
	size_t	 pos = h->off, end = h->off + h->len, e, fe, colon, size = 0;
	const char *nl;

	while (pos < end) {
		nl = memchr(m->buf + pos, '\n', end - pos);
		e = nl == NULL ? end : (size_t)(nl - m->buf) + 1;
		if (m->buf[pos] == '\n' || (m->buf[pos] == '\r' &&
		    e - pos == 2))
			break;
		/* The field with its continuation lines. */
		fe = e;
		while (fe < end && (m->buf[fe] == ' ' || m->buf[fe] == '\t')) {
			nl = memchr(m->buf + fe, '\n', end - fe);
			fe = nl == NULL ? end : (size_t)(nl - m->buf) + 1;
		}
		for (colon = pos; colon < e && m->buf[colon] != ':'; colon++)
			;
		while (colon > pos && (m->buf[colon - 1] == ' ' ||
		    m->buf[colon - 1] == '\t'))
			colon--;
		/* A line that is no field is one HEADER.FIELDS.NOT keeps. */
		if ((colon < e && field_listed(m->buf + pos, colon - pos,
		    names, n) != not) || (colon == e && not))
			size += mime_write_crlf(f, m->buf + pos, fe - pos, 0,
			    SIZE_MAX);
		pos = fe;
	}
	/*
	 * The blank line: HEADER.FIELDS always adds it, HEADER.FIELDS.NOT
	 * only when the header had one or was empty (Dovecot's answers).
	 */
	if (pos == end && h->len > 0 && not)
		return size;
	fputs("\r\n", f);
	return size + 2;
}

/*
 * The contents of BODY[section] as FETCH sends them (CRLF line ends)
 * into a new buffer: *out and *outlen, partial applied by the caller.
 * -1 when the message has no such part; RFC 9051 6.4.5 then wants an
 * empty string, which is what *out holds.
 */
int
mime_section_contents(struct mime_msg *m, const uint32_t *part, int npart,
    enum mime_text text, const char *const *fields, int nfields,
    char **out, size_t *outlen)
{
	struct mime_range	 r;
	FILE			*f;
	int			 ret = 0;

	*out = NULL;
	*outlen = 0;
	if ((f = open_memstream(out, outlen)) == NULL)
		return -1;
	if (mime_section_range(m, part, npart, text, &r) == -1)
		ret = -1;
	else if (text == MT_HEADER_FIELDS || text == MT_HEADER_FIELDS_NOT)
		(void)mime_write_fields(f, m, &r, fields, nfields,
		    text == MT_HEADER_FIELDS_NOT);
	else
		(void)mime_write_crlf(f, m->buf + r.off, r.len, 0, SIZE_MAX);
	if (fclose(f) == EOF || *out == NULL) {
		free(*out);
		*out = NULL;
		return -1;
	}
	return ret;
}
