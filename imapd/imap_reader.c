/*
 * imap_reader: assembles one IMAP command from the lines and literals a
 * client sends (RFC 9051 4.3, RFC 7888 LITERAL+ / LITERAL-), keeping
 * the bytes exactly as sent so that imap_parse.c reads literals out of
 * one buffer.  It tells the session when a literal follows and whether
 * the client waits for a "+ " continuation, and refuses lines and
 * literals past the session's limits before buffering them.
 */

#include <sys/types.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap_parse.h"

static int	reader_grow(struct imap_reader *, size_t);
static int	reader_literal_marker(const char *, size_t, size_t *, int *);

void
imap_reader_init(struct imap_reader *r, const struct imap_limits *lim)
{
	memset(r, 0, sizeof(*r));
	r->lim = *lim;
}

/* Forget the command, keep the buffer for the next one. */
void
imap_reader_reset(struct imap_reader *r)
{
	r->len = 0;
	r->lit_size = 0;
	r->lit_sync = 0;
	r->lit_skip = 0;
	r->err = NULL;
	if (r->buf != NULL)
		r->buf[0] = '\0';
}

void
imap_reader_free(struct imap_reader *r)
{
	free(r->buf);
	r->buf = NULL;
	r->size = r->len = 0;
}

/* Room for n more bytes and a NUL, within the command limit. */
static int
reader_grow(struct imap_reader *r, size_t n)
{
	size_t	 want;
	char	*p;

	if (n > r->lim.command_max || r->len > r->lim.command_max - n)
		return -1;
	want = r->len + n + 1;
	if (want <= r->size)
		return 0;
	if (want < 256)
		want = 256;
	if (want < r->size * 2)
		want = r->size * 2;
	if (want > r->lim.command_max + 1)
		want = r->lim.command_max + 1;
	if ((p = realloc(r->buf, want)) == NULL)
		return -1;
	r->buf = p;
	r->size = want;
	return 0;
}

/*
 * Does the line end in "{n}" or "{n+}" (literal8 "~{n}" ends the same
 * way)?  An atom cannot hold "{", so a line ending so always announces
 * a literal.  -1 for a marker whose number is bad.
 */
static int
reader_literal_marker(const char *line, size_t len, size_t *size,
    int *sync)
{
	size_t	 i, end, n = 0;

	if (len < 3 || line[len - 1] != '}')
		return 0;
	end = len - 1;
	*sync = 1;
	if (line[end - 1] == '+') {
		*sync = 0;
		end--;
	}
	for (i = end; i > 0 && line[i - 1] >= '0' && line[i - 1] <= '9'; i--)
		;
	if (i == 0 || line[i - 1] != '{')
		return 0;
	if (i == end || end - i > 10)
		return -1;
	for (; i < end; i++)
		n = n * 10 + (line[i] - '0');
	if (n > UINT32_MAX)
		return -1;
	*size = n;
	return 1;
}

enum imap_read
imap_reader_line(struct imap_reader *r, const char *line, size_t len)
{
	size_t	 size = 0;
	int	 sync = 1, m;

	r->lit_skip = 0;
	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (r->len == 0)
		imap_line_tag(line, len, r->tag, sizeof(r->tag));
	if (len > r->lim.line_max) {
		r->err = "Line too long";
		return IMAP_READ_ERROR;
	}
	if (memchr(line, '\0', len) != NULL || memchr(line, '\r', len) ||
	    memchr(line, '\n', len) != NULL) {
		r->err = "NUL, CR or LF inside a line";
		return IMAP_READ_ERROR;
	}
	if (reader_grow(r, len + 2) == -1) {
		r->err = "Command too long";
		return IMAP_READ_ERROR;
	}
	memcpy(r->buf + r->len, line, len);
	r->len += len;
	memcpy(r->buf + r->len, "\r\n", 3);
	r->len += 2;
	if ((m = reader_literal_marker(line, len, &size, &sync)) == 0)
		return IMAP_READ_DONE;
	if (m == -1) {
		r->err = "Invalid literal size";
		return IMAP_READ_ERROR;
	}
	r->lit_size = size;
	r->lit_sync = sync;
	if (!sync && !r->lim.literal_plus && size > IMAP_NONSYNC_MAX) {
		r->err = "Non-synchronizing literal over 4096 bytes "
		    "(LITERAL-)";
		r->lit_skip = 1;
	} else if (size > r->lim.literal_max)
		r->err = "Literal too big";
	else if (size > r->lim.command_max - r->len)
		r->err = "Command too long";
	else
		return IMAP_READ_LITERAL;
	/* A client that did not wait sends the bytes anyway. */
	r->lit_skip = !sync;
	return IMAP_READ_ERROR;
}

/*
 * The literal's bytes, in one piece or several.  IMAP_READ_LITERAL
 * while some are still to come, then IMAP_READ_LINE.
 */
enum imap_read
imap_reader_literal(struct imap_reader *r, const char *data, size_t n)
{
	if (n > r->lit_size || reader_grow(r, n) == -1) {
		r->err = "Literal longer than announced";
		return IMAP_READ_ERROR;
	}
	if (n > 0)
		memcpy(r->buf + r->len, data, n);
	r->len += n;
	r->buf[r->len] = '\0';
	r->lit_size -= n;
	return r->lit_size > 0 ? IMAP_READ_LITERAL : IMAP_READ_LINE;
}

/*
 * The tag a line starts with, for a BAD about a line that cannot be
 * parsed (RFC 9051 7.1.5: untagged only when the tag cannot be told):
 * "*" unless the first word is a valid tag (RFC 9051 9: astring
 * characters but "+").
 */
void
imap_line_tag(const char *line, size_t len, char *tag, size_t size)
{
	size_t	 n;

	for (n = 0; n < len && n < size - 1; n++)
		if (line[n] <= ' ' || line[n] >= 0x7f ||
		    strchr("(){%*\"\\+", line[n]) != NULL)
			break;
	if (n == 0 || n == size - 1 || n >= len || line[n] != ' ')
		n = 0;
	if (n == 0)
		strlcpy(tag, "*", size);
	else {
		memcpy(tag, line, n);
		tag[n] = '\0';
	}
}

/* The line that ends IDLE (RFC 2177): "DONE", any case. */
int
imap_is_done(const char *line, size_t len)
{
	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	return len == 4 && strncasecmp(line, "DONE", 4) == 0;
}
