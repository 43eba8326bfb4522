/*
 * mime: the MIME structure of one message (RFC 5322 header, RFC 2045
 * Content-Type with RFC 2231 parameters, RFC 2046 multiparts and
 * message/rfc822 encapsulation), found in one pass over its lines the
 * way a tolerant reader must: a boundary line of any enclosing
 * multipart ends the parts inside it, so a missing close delimiter or
 * a broken inner part cuts no more than it must.  Each part records
 * where its header and body are and their sizes in IMAP's CRLF terms,
 * so FETCH can cut sections without parsing again.  Nesting and the
 * number of parts are bounded; past a bound the rest is a plain body.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "mime.h"

#define BOUNDARY_MAX	70	/* RFC 2046 5.1.1, with slack below */

struct boundary {
	char		 b[BOUNDARY_MAX + 20];
	size_t		 len;
};

struct mime_ctx {
	struct mime_msg		*msg;
	struct mime_limits	 lim;
	struct boundary		 stack[MIME_DEPTH_MAX];
	int			 nstack;
};

/* Where a part stopped: a boundary line of stack level, or the end. */
struct stop {
	size_t		 line;		/* start of the boundary line */
	size_t		 next;		/* just past it */
	size_t		 from;		/* where the search for it began */
	int		 level;		/* -1: end of message */
	int		 close;
};

static size_t
line_end(const struct mime_msg *m, size_t pos)
{
	const char	*nl;

	if ((nl = memchr(m->buf + pos, '\n', m->len - pos)) == NULL)
		return m->len;
	return nl - m->buf + 1;
}

static void
range_set(const struct mime_msg *m, struct mime_range *r, size_t off,
    size_t end)
{
	size_t	 i;

	r->off = off;
	r->len = end - off;
	r->vsize = r->len;
	r->lines = 0;
	for (i = off; i < end; i++) {
		if (m->buf[i] != '\n')
			continue;
		r->lines++;
		if (i == off || m->buf[i - 1] != '\r')
			r->vsize++;
	}
}

/* Is the line at pos a boundary of the stack?  The innermost wins. */
static int
boundary_match(struct mime_ctx *c, size_t pos, size_t end, int *close)
{
	const char	*l = c->msg->buf + pos;
	size_t		 n = end - pos;
	int		 i;

	if (n < 2 || l[0] != '-' || l[1] != '-')
		return -1;
	for (i = c->nstack - 1; i >= 0; i--) {
		if (n - 2 < c->stack[i].len ||
		    memcmp(l + 2, c->stack[i].b, c->stack[i].len) != 0)
			continue;
		*close = n - 2 >= c->stack[i].len + 2 &&
		    l[2 + c->stack[i].len] == '-' &&
		    l[3 + c->stack[i].len] == '-';
		return i;
	}
	return -1;
}

/* Skip lines from pos to the next boundary line, or the end. */
static struct stop
scan_to_boundary(struct mime_ctx *c, size_t pos)
{
	struct stop	 s;
	size_t		 e;

	s.from = pos;
	while (pos < c->msg->len) {
		e = line_end(c->msg, pos);
		if ((s.level = boundary_match(c, pos, e, &s.close)) != -1) {
			s.line = pos;
			s.next = e;
			return s;
		}
		pos = e;
	}
	s.line = s.next = c->msg->len;
	s.level = -1;
	s.close = 0;
	return s;
}

/* The end of a body that a boundary line stops: its line end is not in. */
static size_t
body_end(const struct mime_msg *m, size_t start, const struct stop *s)
{
	size_t	 e = s->line;

	/*
	 * Not a line end that was part of an earlier boundary line (the
	 * close delimiter before an empty epilogue): Dovecot counts
	 * that one in the body.
	 */
	if (s->from > start)
		start = s->from;
	if (s->level == -1)
		return m->len;
	if (e > start && m->buf[e - 1] == '\n') {
		e--;
		if (e > start && m->buf[e - 1] == '\r')
			e--;
	}
	return e;
}

/*
 * The header from pos: up to and with the first empty line.  A
 * boundary line ends a broken header too; *stopped says so.
 */
static size_t
header_end(struct mime_ctx *c, size_t pos, struct stop *stopped)
{
	size_t	 e;

	stopped->level = -1;
	stopped->from = pos;
	while (pos < c->msg->len) {
		e = line_end(c->msg, pos);
		if (c->msg->buf[pos] == '\n' || (c->msg->buf[pos] == '\r' &&
		    e - pos == 2))
			return e;
		if ((stopped->level = boundary_match(c, pos, e,
		    &stopped->close)) != -1) {
			stopped->line = pos;
			stopped->next = e;
			return pos;
		}
		pos = e;
	}
	return pos;
}

static struct mime_part *
part_new(struct mime_ctx *c, struct mime_part *parent)
{
	struct mime_part	*p;

	if (c->msg->nparts >= c->lim.parts_max) {
		c->msg->truncated = 1;
		return NULL;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	TAILQ_INIT(&p->children);
	p->parent = parent;
	if (parent != NULL) {
		TAILQ_INSERT_TAIL(&parent->children, p, entry);
		parent->nchildren++;
	}
	c->msg->nparts++;
	return p;
}

static const char *
param_get(const struct mime_param *v, int n, const char *name)
{
	int	 i;

	for (i = 0; i < n; i++)
		if (strcasecmp(v[i].name, name) == 0)
			return v[i].value;
	return NULL;
}

/* Content-Type and Content-Disposition of the part's header. */
static void
part_content(struct mime_ctx *c, struct mime_part *p)
{
	char	*v;
	int	 digest;

	digest = p->parent != NULL && p->parent->is_multipart &&
	    p->parent->subtype != NULL &&
	    strcasecmp(p->parent->subtype, "digest") == 0;
	/*
	 * The Content-* fields of a message count only when it says it
	 * is MIME (MIME-Version or Content-Type); those of a part of a
	 * multipart always do.  Dovecot reads them so.
	 */
	p->is_mime = p->parent != NULL && p->parent->is_multipart;
	if (!p->is_mime && mime_header_get(c->msg, &p->header,
	    "MIME-Version", &v, NULL) == 0) {
		p->is_mime = 1;
		free(v);
	}
	if (mime_header_get(c->msg, &p->header, "Content-Type", &v,
	    NULL) == 0) {
		p->is_mime = 1;
		if (mime_parse_params(v, &p->type, &p->subtype, &p->params,
		    &p->nparams) == -1) {
			free(p->type);
			free(p->subtype);
			p->type = p->subtype = NULL;
		}
		free(v);
	}
	if (p->type == NULL && digest) {
		p->type = strdup("message");
		p->subtype = strdup("rfc822");
	}
	if (p->is_mime && mime_header_get(c->msg, &p->header,
	    "Content-Disposition", &v, NULL) == 0) {
		if (mime_parse_params(v, &p->disposition, NULL,
		    &p->disp_params, &p->ndisp_params) == -1) {
			free(p->disposition);
			p->disposition = NULL;
		}
		free(v);
	}
	if (p->type == NULL)
		return;
	if (strcasecmp(p->type, "multipart") == 0)
		p->is_multipart = 1;
	else if (strcasecmp(p->type, "message") == 0 &&
	    strcasecmp(p->subtype, "rfc822") == 0)
		p->is_message = 1;	/* not message/global: Dovecot 2.3 */
}

static int
push_boundary(struct mime_ctx *c, const char *b)
{
	size_t	 n = strlen(b);

	/* An empty boundary is kept: Dovecot matches any "--" line with it. */
	if (n >= sizeof(c->stack[0].b) ||
	    c->nstack >= c->lim.depth_max || c->nstack >= MIME_DEPTH_MAX)
		return -1;
	memcpy(c->stack[c->nstack].b, b, n + 1);
	c->stack[c->nstack].len = n;
	c->nstack++;
	return 0;
}

static struct stop	parse_part(struct mime_ctx *, struct mime_part *,
			    size_t, int);

/* The parts of a multipart whose boundary is at stack level. */
static struct stop
parse_multipart(struct mime_ctx *c, struct mime_part *p, size_t pos,
    int depth)
{
	struct mime_part	*child;
	struct stop		 s;
	int			 level = c->nstack - 1;

	s = scan_to_boundary(c, pos);		/* the preamble */
	while (s.level == level && !s.close) {
		if ((child = part_new(c, p)) == NULL) {
			s = scan_to_boundary(c, s.next);
			continue;
		}
		s = parse_part(c, child, s.next, depth + 1);
	}
	if (s.level == level)			/* the epilogue */
		s = scan_to_boundary(c, s.next);
	return s;
}

static struct stop
parse_part(struct mime_ctx *c, struct mime_part *p, size_t pos, int depth)
{
	struct mime_part	*child;
	struct stop		 s;
	const char		*b;
	size_t			 hend, end;
	int			 is_msg;

	hend = header_end(c, pos, &s);
	/*
	 * A header that a boundary cuts ends before that line's line end;
	 * when it is the header of a message inside message/rfc822, the
	 * rfc822 part's body keeps the line end (Dovecot counts so).
	 */
	if (s.level != -1) {
		hend = body_end(c->msg, pos, &s);
		if (p->parent != NULL && p->parent->is_message)
			s.from = s.line;
	}
	range_set(c->msg, &p->header, pos, hend);
	part_content(c, p);
	if (s.level != -1) {
		/* The header was cut by a boundary: an empty body. */
		range_set(c->msg, &p->body, hend, hend);
		p->is_multipart = p->is_message = 0;
		return s;
	}
	if (depth >= c->lim.depth_max) {
		c->msg->truncated |= p->is_multipart || p->is_message;
		p->is_multipart = p->is_message = 0;
	}
	b = p->is_multipart ? param_get(p->params, p->nparams, "boundary") :
	    NULL;
	if (p->is_multipart && b == NULL) {
		/* No boundary: one empty part, as Dovecot shows it. */
		s = scan_to_boundary(c, hend);
		if ((child = part_new(c, p)) != NULL) {
			end = body_end(c->msg, hend, &s);
			range_set(c->msg, &child->header, end, end);
			range_set(c->msg, &child->body, end, end);
		}
	} else if (p->is_multipart && push_boundary(c, b) == 0) {
		s = parse_multipart(c, p, hend, depth);
		c->nstack--;
		/* Only a preamble: one empty part, as Dovecot shows it. */
		if (p->nchildren == 0 && (child = part_new(c, p)) != NULL) {
			end = body_end(c->msg, hend, &s);
			range_set(c->msg, &child->header, end, end);
			range_set(c->msg, &child->body, end, end);
		}
	} else if (p->is_message && (child = part_new(c, p)) != NULL)
		s = parse_part(c, child, hend, depth + 1);
	else {
		p->is_multipart = p->is_message = 0;
		s = scan_to_boundary(c, hend);
	}
	end = body_end(c->msg, hend, &s);
	/*
	 * An empty body right before a boundary: the header's blank line
	 * is the line end that belongs to the boundary (RFC 2046 5.1.1),
	 * so the header loses it (Dovecot counts it so), though a part's
	 * header that is only the blank line keeps it; the header of a
	 * message in message/rfc822 loses it always.
	 */
	is_msg = p->parent != NULL && p->parent->is_message;
	if (s.level != -1 && s.line == hend && hend > pos &&
	    c->msg->buf[hend - 1] == '\n' && (is_msg || (hend > pos + 2 &&
	    !(hend - pos == 2 && c->msg->buf[pos] == '\r')))) {
		end = hend - 1;
		if (end > pos && c->msg->buf[end - 1] == '\r')
			end--;
		range_set(c->msg, &p->header, pos, end);
		hend = end;
		/* An empty message or stand-in part there moves along. */
		TAILQ_FOREACH(child, &p->children, entry) {
			range_set(c->msg, &child->header, end, end);
			range_set(c->msg, &child->body, end, end);
		}
	}
	range_set(c->msg, &p->body, hend, end);
	return s;
}

struct mime_msg *
mime_parse(const char *buf, size_t len, const struct mime_limits *lim)
{
	struct mime_ctx	 c;
	struct mime_msg	*m;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	m->buf = buf;
	m->len = len;
	memset(&c, 0, sizeof(c));
	c.msg = m;
	c.lim = *lim;
	if (c.lim.depth_max > MIME_DEPTH_MAX)
		c.lim.depth_max = MIME_DEPTH_MAX;
	if (c.lim.parts_max < 1)
		c.lim.parts_max = 1;
	if ((m->root = part_new(&c, NULL)) == NULL) {
		free(m);
		return NULL;
	}
	(void)parse_part(&c, m->root, 0, 0);
	return m;
}

/* The message of a file, read whole: at most max bytes. */
struct mime_msg *
mime_parse_fd(int fd, size_t max, const struct mime_limits *lim)
{
	struct mime_msg	*m;
	char		*buf = NULL, *nb;
	size_t		 len = 0, size = 0;
	ssize_t		 n;

	for (;;) {
		if (len == size) {
			if (size >= max) {
				free(buf);
				errno = EFBIG;
				return NULL;
			}
			size = size == 0 ? 65536 : size * 2;
			if (size > max)
				size = max;
			if ((nb = realloc(buf, size + 1)) == NULL) {
				free(buf);
				return NULL;
			}
			buf = nb;
		}
		if ((n = read(fd, buf + len, size - len)) == -1) {
			if (errno == EINTR)
				continue;
			free(buf);
			return NULL;
		}
		if (n == 0)
			break;
		len += n;
	}
	if ((m = mime_parse(buf == NULL ? "" : buf, len, lim)) == NULL) {
		free(buf);
		return NULL;
	}
	m->owned = buf;
	return m;
}

/*
 * Where the first empty line of the len bytes at buf ends, as
 * header_end() finds it at the top level; 0 while the line at *pos has
 * no end yet and more of the file follows (!eof).  *pos is where to
 * go on from with more bytes.
 */
static size_t
header_scan(const char *buf, size_t len, int eof, size_t *pos)
{
	const char	*nl;
	size_t		 e;

	while (*pos < len) {
		if ((nl = memchr(buf + *pos, '\n', len - *pos)) == NULL &&
		    !eof)
			return 0;
		e = nl == NULL ? len : (size_t)(nl - buf) + 1;
		if (buf[*pos] == '\n' || (buf[*pos] == '\r' && e - *pos == 2))
			return e;
		*pos = e;
	}
	return eof ? len : 0;
}

/*
 * Only the header of a file, for what needs no more (ENVELOPE): read
 * from its start chunk bytes at a time until the chunk with the first
 * empty line, at most max.  The root's header range is the one
 * mime_parse() finds (its vsize and lines are not counted); it has no
 * body and its Content-* fields are not parsed.
 */
struct mime_msg *
mime_parse_header_fd(int fd, size_t chunk, size_t max)
{
	struct mime_msg	*m;
	char		*buf = NULL, *nb;
	size_t		 len = 0, size = 0, pos = 0, hend = 0;
	ssize_t		 n;
	int		 eof = 0;

	while ((hend = header_scan(buf, len, eof, &pos)) == 0 && !eof) {
		if (len == size) {
			if (size >= max) {
				free(buf);
				errno = EFBIG;
				return NULL;
			}
			size = size == 0 ? chunk : size * 2;
			if (size > max)
				size = max;
			if ((nb = realloc(buf, size)) == NULL) {
				free(buf);
				return NULL;
			}
			buf = nb;
		}
		if ((n = pread(fd, buf + len, size - len, len)) == -1) {
			if (errno == EINTR)
				continue;
			free(buf);
			return NULL;
		}
		if (n == 0)
			eof = 1;
		len += n;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    (m->root = calloc(1, sizeof(*m->root))) == NULL) {
		free(m);
		free(buf);
		return NULL;
	}
	TAILQ_INIT(&m->root->children);
	m->buf = buf == NULL ? "" : buf;
	m->len = hend;
	m->owned = buf;
	m->readlen = len;
	m->nparts = 1;
	m->root->header.len = hend;
	m->root->body.off = hend;
	return m;
}

/* The size of len bytes as IMAP counts them: every bare LF as CRLF. */
size_t
mime_vsize(const char *buf, size_t len)
{
	const char	*p = buf, *end = buf + len, *nl;
	size_t		 n = len;

	while (p < end && (nl = memchr(p, '\n', end - p)) != NULL) {
		if (nl == buf || nl[-1] != '\r')
			n++;
		p = nl + 1;
	}
	return n;
}

static void
part_free(struct mime_part *p)
{
	struct mime_part	*child;

	while ((child = TAILQ_FIRST(&p->children)) != NULL) {
		TAILQ_REMOVE(&p->children, child, entry);
		part_free(child);
	}
	free(p->type);
	free(p->subtype);
	free(p->disposition);
	mime_params_free(p->params, p->nparams);
	mime_params_free(p->disp_params, p->ndisp_params);
	free(p);
}

void
mime_free(struct mime_msg *m)
{
	if (m == NULL)
		return;
	if (m->root != NULL)
		part_free(m->root);
	free(m->owned);
	free(m);
}

/*
 * RFC 9051 6.4.5: part 1 of a message that is not multipart is its
 * body; the parts of a message/rfc822 part are those of its message.
 */
struct mime_part *
mime_section_part(struct mime_msg *m, const uint32_t *sec, int n)
{
	struct mime_part	*p = m->root, *c;
	uint32_t		 i;
	int			 k, is_msg = 1, last = 0;

	for (k = 0; k < n; k++) {
		if (last)
			return NULL;
		/* A message/rfc822 part: go on in its message. */
		if (!is_msg && p->is_message) {
			if ((p = TAILQ_FIRST(&p->children)) == NULL)
				return NULL;
			is_msg = 1;
		}
		if (!p->is_multipart) {
			/*
			 * Part 1 of a message that is not multipart is its
			 * body, and has no parts; part 1 of a single part
			 * in a multipart is that part again (as Dovecot).
			 */
			if (sec[k] != 1)
				return NULL;
			last = is_msg && !p->is_message;
			is_msg = 0;
			continue;
		}
		c = TAILQ_FIRST(&p->children);
		for (i = 1; c != NULL && i < sec[k]; i++)
			c = TAILQ_NEXT(c, entry);
		if (c == NULL)
			return NULL;
		p = c;
		is_msg = 0;
	}
	return p;
}

/* Header fields. */

/*
 * An unfolded copy: line ends (LF, CRLF) removed, the blanks after them
 * kept; a bare CR stays; a NUL becomes U+FFFD, as Dovecot shows it, so
 * the copy is a C string.
 */
char *
mime_unfold(const char *s, size_t n)
{
	char	*out;
	size_t	 i, o = 0, nul = 0;

	for (i = 0; i < n; i++)
		nul += s[i] == '\0';
	if ((out = malloc(n + 2 * nul + 1)) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		if (s[i] == '\0') {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
		} else if (s[i] != '\n' && (s[i] != '\r' || i + 1 == n ||
		    s[i + 1] != '\n'))
			out[o++] = s[i];
	}
	out[o] = '\0';
	return out;
}

int
mime_header_get(const struct mime_msg *m, const struct mime_range *h,
    const char *name, char **value, int *folded)
{
	return mime_header_get_nth(m, h, name, 0, value, folded);
}

/*
 * The field called name (the nth of them, from 0) in the header range,
 * unfolded, leading blanks gone: 0 and *value (free it), or -1 when
 * there is none.
 */
int
mime_header_get_nth(const struct mime_msg *m, const struct mime_range *h,
    const char *name, int nth, char **value, int *folded)
{
	size_t		 pos = h->off, end = h->off + h->len, e;
	size_t		 nlen = strlen(name), vstart;
	const char	*nl;

	while (pos < end) {
		e = line_end(m, pos);
		if (e > end)
			e = end;
		/* The first letter first: most lines are other fields. */
		if (e - pos > nlen && tolower((unsigned char)m->buf[pos]) ==
		    tolower((unsigned char)name[0]) &&
		    strncasecmp(m->buf + pos, name, nlen) == 0) {
			vstart = pos + nlen;
			while (vstart < e && (m->buf[vstart] == ' ' ||
			    m->buf[vstart] == '\t'))
				vstart++;
			if (vstart < e && m->buf[vstart] == ':' &&
			    nth-- > 0)
				vstart = e;	/* not this one: go on */
			else if (vstart < e && m->buf[vstart] == ':') {
				vstart++;
				while (e < end && (m->buf[e] == ' ' ||
				    m->buf[e] == '\t'))
					e = line_end(m, e) > end ? end :
					    line_end(m, e);
				while (vstart < e && (m->buf[vstart] == ' ' ||
				    m->buf[vstart] == '\t'))
					vstart++;
				if ((*value = mime_unfold(m->buf + vstart,
				    e - vstart)) == NULL)
					return -1;
				/* Folded: a line end before the last one. */
				if (folded != NULL) {
					nl = memchr(m->buf + vstart, '\n',
					    e - vstart);
					*folded = nl != NULL &&
					    nl < m->buf + e - 1;
				}
				return 0;
			}
		}
		pos = e;
	}
	return -1;
}

/* RFC 2045 5.1 and RFC 5322 3.2.2: blanks and (nested) comments. */
static const char *
skip_cfws(const char *p)
{
	int	 depth;

	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (*p != '(')
			return p;
		for (depth = 0; *p != '\0'; p++) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			else if (*p == '(')
				depth++;
			else if (*p == ')' && --depth == 0) {
				p++;
				break;
			}
		}
	}
}

static int
is_token_char(int c)
{
	if (c <= 0x20 || c >= 0x7f)
		return 0;
	return strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

/* A token or a quoted-string, as a new string; NULL when neither. */
static char *
read_value(const char **pp)
{
	const char	*p = *pp, *s;
	char		*out;
	size_t		 o = 0;

	if (*p == '"') {
		p++;
		for (s = p; *s != '\0' && *s != '"'; s++)
			if (*s == '\\' && s[1] != '\0')
				s++;
		if ((out = malloc(s - p + 1)) == NULL)
			return NULL;
		for (; p < s; p++) {
			if (*p == '\\' && p + 1 < s)
				p++;
			out[o++] = *p;
		}
		out[o] = '\0';
		*pp = *s == '"' ? s + 1 : s;
		return out;
	}
	for (s = p; is_token_char((unsigned char)*s); s++)
		;
	if (s == p)
		return NULL;
	*pp = s;
	return strndup(p, s - p);
}

void
mime_params_free(struct mime_param *v, int n)
{
	int	 i;

	for (i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].value);
	}
	free(v);
}

static int
param_add(struct mime_param **v, int *n, char *name, char *value)
{
	struct mime_param	*nv;

	if (*n >= 256 || (nv = reallocarray(*v, *n + 1, sizeof(**v))) ==
	    NULL) {
		free(name);
		free(value);
		return -1;
	}
	*v = nv;
	nv[*n].name = name;
	nv[*n].value = value;
	(*n)++;
	return 0;
}

/*
 * RFC 2231 3 and 4: name*0, name*1... are joined into name; when any
 * piece is extended (name*0*, name*) the result is "name*" whose value
 * keeps its charset'language' prefix and %-escapes, the pieces simply
 * joined.  That is what Dovecot's BODYSTRUCTURE shows, and what a
 * client decodes.
 */
static int
params_rfc2231(struct mime_param **vp, int *np)
{
	struct mime_param	*v = *vp, *out = NULL;
	int			 n = *np, nout = 0, i, j, ext, k, found;
	size_t			 base, len;
	char			*name, *val, *star, *nv, *sfx;
	char			 buf[16], bname[128];
	int			 pass;

	/* Plain names first, then the RFC 2231 ones, as Dovecot lists them. */
	for (pass = 0; pass < 2; pass++)
	for (i = 0; i < n; i++) {
		if (v[i].name == NULL ||
		    (strchr(v[i].name, '*') == NULL) != (pass == 0))
			continue;
		if ((star = strchr(v[i].name, '*')) == NULL ||
		    (star[1] != '\0' && !isdigit((unsigned char)star[1]))) {
			if (param_add(&out, &nout, v[i].name, v[i].value) == -1)
				goto fail;
			v[i].name = v[i].value = NULL;
			continue;
		}
		base = star - v[i].name;
		if (star[1] == '\0') {
			/* name*=charset'lang'value */
			if (param_add(&out, &nout, v[i].name, v[i].value) == -1)
				goto fail;
			v[i].name = v[i].value = NULL;
			continue;
		}
		/* Join the pieces 0, 1, ... in order, wherever they are. */
		if (strlcpy(bname, v[i].name, sizeof(bname)) >=
		    sizeof(bname) || base >= sizeof(bname)) {
			free(v[i].name);
			free(v[i].value);
			v[i].name = v[i].value = NULL;
			continue;
		}
		bname[base] = '\0';
		ext = 0;
		val = strdup("");
		for (k = 0; val != NULL; k++) {
			found = 0;
			for (j = i; j < n; j++) {
				if (v[j].name == NULL ||
				    strncasecmp(v[j].name, bname, base) != 0 ||
				    v[j].name[base] != '*')
					continue;
				snprintf(buf, sizeof(buf), "%d", k);
				len = strlen(buf);
				sfx = v[j].name + base + 1;
				if (strncmp(sfx, buf, len) != 0 ||
				    (sfx[len] != '\0' && strcmp(sfx + len,
				    "*") != 0))
					continue;
				if (v[j].name[base + 1 + len] == '*')
					ext = 1;
				if (asprintf(&nv, "%s%s", val,
				    v[j].value) == -1)
					nv = NULL;
				free(val);
				val = nv;
				free(v[j].name);
				free(v[j].value);
				v[j].name = v[j].value = NULL;
				found = 1;
				break;
			}
			if (!found)
				break;
		}
		if (val == NULL)
			goto fail;
		if (k == 0) {
			/* No piece 0: keep the odd names as they are. */
			free(val);
			if (param_add(&out, &nout, v[i].name, v[i].value) == -1)
				goto fail;
			v[i].name = v[i].value = NULL;
			continue;
		}
		if (asprintf(&name, "%s%s", bname, ext ? "*" : "") == -1) {
			free(val);
			goto fail;
		}
		if (param_add(&out, &nout, name, val) == -1)
			goto fail;
	}
	mime_params_free(v, n);
	*vp = out;
	*np = nout;
	return 0;
fail:
	mime_params_free(out, nout);
	return -1;
}

/*
 * "type/subtype; a=b; c=\"d\"" (subtype NULL: "type; a=b" as in
 * Content-Disposition) into type, subtype and parameters, all as
 * written (Dovecot keeps their case too).  -1 when the type is unreadable;
 * a bad parameter ends the list quietly (what a reader can do).
 */
int
mime_parse_params(const char *s, char **type, char **subtype,
    struct mime_param **params, int *nparams)
{
	const char	*p = skip_cfws(s);
	char		*name, *value;

	*type = NULL;
	if (subtype != NULL)
		*subtype = NULL;
	*params = NULL;
	*nparams = 0;
	/*
	 * No type at all: Dovecot shows "" "" for a Content-Type and
	 * reads no parameters; a Content-Disposition keeps its.
	 */
	if ((*type = read_value(&p)) == NULL) {
		if ((*type = strdup("")) == NULL)
			return -1;
		if (subtype != NULL)
			return (*subtype = strdup("")) == NULL ? -1 : 0;
	} else if (subtype != NULL) {
		/* "type" alone keeps an empty subtype, as Dovecot does. */
		p = skip_cfws(p);
		if (*p == '/') {
			p = skip_cfws(p + 1);
			/* "text/" is as bad as "/plain": "" "" (Dovecot). */
			if ((*subtype = read_value(&p)) == NULL) {
				free(*type);
				if ((*type = strdup("")) == NULL)
					return -1;
				return (*subtype = strdup("")) == NULL ? -1 : 0;
			}
		} else if (*p == '\0' || *p == ';')
			*subtype = strdup("");
		else {
			/* Something else after the type: "" "" too. */
			free(*type);
			if ((*type = strdup("")) == NULL)
				return -1;
			return (*subtype = strdup("")) == NULL ? -1 : 0;
		}
		if (*subtype == NULL)
			return -1;
	}
	for (;;) {
		p = skip_cfws(p);
		if (*p != ';')
			break;
		p = skip_cfws(p + 1);
		if (*p == ';')
			continue;
		/* "=value" with no name is kept with an empty one (Dovecot). */
		if ((name = read_value(&p)) == NULL &&
		    (*p != '=' || (name = strdup("")) == NULL))
			break;
		p = skip_cfws(p);
		if (*p != '=') {
			free(name);
			break;
		}
		p = skip_cfws(p + 1);
		if ((value = read_value(&p)) == NULL) {
			free(name);
			break;
		}
		if (param_add(params, nparams, name, value) == -1)
			break;
	}
	(void)params_rfc2231(params, nparams);
	return 0;
}
