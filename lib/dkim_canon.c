/*
 * DKIM simple and relaxed canonicalization of a message stream (RFC 6376
 * 3.4): split off the header block into a bounded buffer, turn the
 * body into its canonical form byte by byte without keeping it.  Line
 * ends are CRLF on the wire and in the spool; a bare LF is taken as a
 * line end too, so that a file written with LF signs the same way.
 */

#include <ctype.h>
#include <string.h>

#include "dkim_canon.h"

#define IS_WSP(c)	((c) == ' ' || (c) == '\t')

void
dkim_sink_init(struct dkim_sink *s, dkim_out fn, void *arg)
{
	s->fn = fn;
	s->arg = arg;
	s->len = 0;
}

void
dkim_sink_flush(struct dkim_sink *s)
{
	if (s->len > 0)
		s->fn(s->arg, s->buf, s->len);
	s->len = 0;
}

static void
dkim_sink_write(struct dkim_sink *s, const void *data, size_t len)
{
	const unsigned char	*p = data;
	size_t			 n;

	while (len > 0) {
		if (s->len == sizeof(s->buf))
			dkim_sink_flush(s);
		n = sizeof(s->buf) - s->len;
		if (n > len)
			n = len;
		memcpy(s->buf + s->len, p, n);
		s->len += n;
		p += n;
		len -= n;
	}
}

static void
sink_putc(struct dkim_sink *s, unsigned char c)
{
	if (s->len == sizeof(s->buf))
		dkim_sink_flush(s);
	s->buf[s->len++] = c;
}

void
dkim_body_init(struct dkim_body *b, int canon, dkim_out fn, void *arg)
{
	memset(b, 0, sizeof(*b));
	b->simple = canon == DKIM_CANON_SIMPLE;
	dkim_sink_init(&b->sink, fn, arg);
}

/*
 * Empty lines are only counted: whether they are written depends on
 * whether anything follows them (trailing empty lines are dropped).
 * Whitespace is likewise held until a character shows it is not at the
 * end of its line.
 */
static void
body_char(struct dkim_body *b, unsigned char c)
{
	for (; b->blank > 0; b->blank--)
		dkim_sink_write(&b->sink, "\r\n", 2);
	if (b->ws)
		sink_putc(&b->sink, ' ');
	b->ws = 0;
	sink_putc(&b->sink, c);
	b->content = 1;
}

/*
 * Simple keeps each line as it is; relaxed folds its whitespace.  Both
 * drop the empty lines at the end, which is why line ends are counted
 * before they are written.
 */
void
dkim_body_update(struct dkim_body *b, const void *data, size_t len)
{
	const unsigned char	*p = data;
	size_t			 i;
	unsigned char		 c;

	for (i = 0; i < len; i++) {
		c = p[i];
		if (c == '\n') {
			b->cr = 0;
			b->ws = 0;
			b->blank++;
			continue;
		}
		if (b->cr) {
			/* A CR not followed by LF is text. */
			b->cr = 0;
			body_char(b, '\r');
		}
		if (c == '\r')
			b->cr = 1;
		else if (IS_WSP(c) && !b->simple)
			b->ws = 1;
		else
			body_char(b, c);
	}
}

/* Writes the final CRLF of a non-empty body and flushes the sink. */
void
dkim_body_final(struct dkim_body *b)
{
	if (b->cr) {
		b->cr = 0;
		body_char(b, '\r');
	}
	/*
	 * A non-empty body ends with one CRLF; an empty one is empty in
	 * relaxed and one CRLF in simple (RFC 6376 3.4.3).
	 */
	if (b->content || b->simple)
		dkim_sink_write(&b->sink, "\r\n", 2);
	b->blank = 0;
	b->ws = 0;
	dkim_sink_flush(&b->sink);
}

void
dkim_msg_init(struct dkim_msg *m, char *hdrbuf, size_t hdrmax,
    dkim_out body_out, void *arg)
{
	m->hdr = hdrbuf;
	m->hdrmax = hdrmax;
	m->hdrlen = 0;
	m->linelen = 0;
	m->in_body = 0;
	m->overflow = 0;
	m->nfields = 0;
	dkim_body_init(&m->body, DKIM_CANON_RELAXED, body_out, arg);
}

/*
 * Header bytes go into the buffer until an empty line; that line is
 * the separator and belongs to neither part.  A header block that does
 * not fit is still read to its end (so the body is found) but marked.
 */
void
dkim_msg_update(struct dkim_msg *m, const void *data, size_t len)
{
	size_t	 n;

	n = dkim_msg_header(m, data, len);
	if (m->in_body && n < len)
		dkim_body_update(&m->body, (const char *)data + n, len - n);
}

size_t
dkim_msg_header(struct dkim_msg *m, const void *data, size_t len)
{
	const unsigned char	*p = data;
	size_t			 i;

	if (m->in_body)
		return 0;
	for (i = 0; i < len; i++) {
		if (p[i] == '\n' && m->linelen == 0) {
			m->in_body = 1;
			/* Drop the separator's CR kept in the buffer. */
			if (m->hdrlen > 0 && m->hdr[m->hdrlen - 1] == '\r' &&
			    (m->hdrlen == 1 || m->hdr[m->hdrlen - 2] == '\n'))
				m->hdrlen--;
			break;
		}
		if (m->hdrlen < m->hdrmax)
			m->hdr[m->hdrlen++] = p[i];
		else
			m->overflow = 1;
		if (p[i] == '\n')
			m->linelen = 0;
		else if (p[i] != '\r')
			m->linelen++;
	}
	/* i is at the separator's LF. */
	return m->in_body ? i + 1 : len;
}

/* Start of the next line after off, or len. */
static size_t
next_line(const char *buf, size_t off, size_t len)
{
	const char	*nl;

	nl = memchr(buf + off, '\n', len - off);
	return nl == NULL ? len : (size_t)(nl - buf) + 1;
}

static size_t
field_namelen(const char *f, size_t len)
{
	size_t	 i;

	for (i = 0; i < len && f[i] != '\n'; i++)
		if (f[i] == ':')
			break;
	if (i == len || f[i] != ':')
		return 0;
	while (i > 0 && IS_WSP(f[i - 1]))
		i--;
	return i;
}

int
dkim_msg_final(struct dkim_msg *m)
{
	dkim_body_final(&m->body);
	return dkim_msg_fields(m);
}

int
dkim_msg_fields(struct dkim_msg *m)
{
	struct dkim_field	*f;
	size_t			 off, end;

	m->nfields = 0;
	if (m->overflow)
		return -1;
	for (off = 0; off < m->hdrlen; off = end) {
		end = next_line(m->hdr, off, m->hdrlen);
		/* Continuation lines start with whitespace. */
		while (end < m->hdrlen && IS_WSP(m->hdr[end]))
			end = next_line(m->hdr, end, m->hdrlen);
		if (m->nfields == DKIM_FIELDS_MAX)
			return -1;
		f = &m->fields[m->nfields++];
		f->off = off;
		f->len = end - off;
		f->namelen = field_namelen(m->hdr + off, f->len);
	}
	return 0;
}

int
dkim_field_is(const struct dkim_msg *m, const struct dkim_field *f,
    const char *name)
{
	return f->namelen == strlen(name) &&
	    strncasecmp(m->hdr + f->off, name, f->namelen) == 0;
}

/*
 * Lowercase name, no whitespace around the colon, folding removed,
 * runs of whitespace as one space, none at the end.
 */
void
dkim_header_relaxed(struct dkim_sink *s, const char *f, size_t len)
{
	size_t	 i, name;
	int	 ws = 0, start = 1;

	for (name = 0; name < len && f[name] != ':'; name++)
		;
	for (i = 0; i < name; i++) {
		if (f[i] == '\r' || f[i] == '\n')
			continue;
		if (IS_WSP(f[i]))
			ws = 1;
		else {
			if (ws)
				sink_putc(s, ' ');
			ws = 0;
			sink_putc(s, tolower((unsigned char)f[i]));
		}
	}
	sink_putc(s, ':');
	ws = 0;
	for (i = name + 1; i < len; i++) {
		if (f[i] == '\r' || f[i] == '\n')
			continue;
		if (IS_WSP(f[i]))
			ws = 1;
		else {
			if (ws && !start)
				sink_putc(s, ' ');
			ws = 0;
			start = 0;
			sink_putc(s, (unsigned char)f[i]);
		}
	}
	dkim_sink_write(s, "\r\n", 2);
}

void
dkim_header_simple(struct dkim_sink *s, const char *f, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++) {
		if (f[i] == '\n' && (i == 0 || f[i - 1] != '\r'))
			sink_putc(s, '\r');
		sink_putc(s, (unsigned char)f[i]);
	}
	if (len == 0 || f[len - 1] != '\n')
		dkim_sink_write(s, "\r\n", 2);
}
