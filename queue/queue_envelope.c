/*
 * The envelope file: a versioned text format with one "key value" per
 * line, fields in a fixed order, values escaped so that no value can
 * inject a line, and an "end" line so that a truncated file is refused.
 *
 *   version 3
 *   id 0123456789abcdef
 *   created 1700000000
 *   sender a@example.org        (empty value = null sender)
 *   helo client.example.org
 *   client 192.0.2.1
 *   body 1
 *   smtputf8 0
 *   auth a@example.org          (SMTP AUTH user, empty if none)
 *   held 0                      (1: not scheduled until released)
 *   warned 0                    (1: the delay notice went out)
 *   prefix Authentication-Results: ...\x0d\x0a   (header fields the
 *                               readers put in front of the message file)
 *   rcpt b@example.org          (then, per recipient:)
 *   orcpt b@example.org
 *   flags 1
 *   state pending|done|failed
 *   tries 0
 *   next-try 0
 *   error 451 4.2.0 try again
 *   end
 *
 * Version 1 files, written before auth, held and warned existed, are
 * still read (those three are then empty and 0), and so are version 2
 * files, written before prefix existed (no prefix).
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "msgid.h"
#include "queue.h"

#define ENVELOPE_FILE_MAX	(16 * 1024 * 1024)
/* Every byte of the longest value escaped as \xHH, and the key. */
#define ENVELOPE_LINE_MAX	(4 * PROTO_PREPEND_MAX + 32)

struct ebuf {
	char	*buf;
	size_t	 len;
	size_t	 size;
	int	 error;
};

static const char *state_names[] = { "pending", "done", "failed" };

void
envelope_init(struct envelope *env)
{
	memset(env, 0, sizeof(*env));
	env->version = ENVELOPE_VERSION;
	TAILQ_INIT(&env->rcpts);
}

void
envelope_clear(struct envelope *env)
{
	struct rcpt	*r;

	while ((r = TAILQ_FIRST(&env->rcpts)) != NULL) {
		TAILQ_REMOVE(&env->rcpts, r, entry);
		free(r);
	}
	env->nrcpts = 0;
	free(env->prefix);
	env->prefix = NULL;
}

struct rcpt *
envelope_add_rcpt(struct envelope *env, const char *addr, const char *orcpt,
    uint8_t flags)
{
	struct rcpt	*r;

	if (env->nrcpts >= ENVELOPE_RCPT_MAX)
		return NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	if (strlcpy(r->addr, addr, sizeof(r->addr)) >= sizeof(r->addr) ||
	    strlcpy(r->orcpt, orcpt, sizeof(r->orcpt)) >= sizeof(r->orcpt)) {
		free(r);
		return NULL;
	}
	r->flags = flags;
	r->state = RCPT_PENDING;
	TAILQ_INSERT_TAIL(&env->rcpts, r, entry);
	env->nrcpts++;
	return r;
}

static void
ebuf_add(struct ebuf *eb, const char *s, size_t len)
{
	char	*p;
	size_t	 nsize;

	if (eb->error)
		return;
	if (eb->len + len + 1 > eb->size) {
		nsize = eb->size ? eb->size : 1024;
		while (nsize < eb->len + len + 1)
			nsize *= 2;
		if (nsize > ENVELOPE_FILE_MAX ||
		    (p = realloc(eb->buf, nsize)) == NULL) {
			eb->error = 1;
			return;
		}
		eb->buf = p;
		eb->size = nsize;
	}
	memcpy(eb->buf + eb->len, s, len);
	eb->len += len;
	eb->buf[eb->len] = '\0';
}

/* Backslash, controls and DEL are escaped; UTF-8 bytes pass as they are. */
static void
ebuf_add_field(struct ebuf *eb, const char *key, const char *value)
{
	const unsigned char	*v;
	char			 esc[8];

	ebuf_add(eb, key, strlen(key));
	ebuf_add(eb, " ", 1);
	for (v = (const unsigned char *)value; *v != '\0'; v++) {
		if (*v == '\\')
			ebuf_add(eb, "\\\\", 2);
		else if (*v < 0x20 || *v == 0x7f) {
			snprintf(esc, sizeof(esc), "\\x%02x", *v);
			ebuf_add(eb, esc, 4);
		} else
			ebuf_add(eb, (const char *)v, 1);
	}
	ebuf_add(eb, "\n", 1);
}

static void
ebuf_add_num(struct ebuf *eb, const char *key, uint64_t n)
{
	char	 num[32];

	snprintf(num, sizeof(num), "%" PRIu64, n);
	ebuf_add_field(eb, key, num);
}

char *
envelope_encode(const struct envelope *env, size_t *lenp)
{
	struct ebuf		 eb;
	const struct rcpt	*r;

	memset(&eb, 0, sizeof(eb));
	ebuf_add_num(&eb, "version", ENVELOPE_VERSION);
	ebuf_add_field(&eb, "id", env->id);
	ebuf_add_num(&eb, "created", (uint64_t)env->created);
	ebuf_add_field(&eb, "sender", env->sender);
	ebuf_add_field(&eb, "helo", env->helo);
	ebuf_add_field(&eb, "client", env->client);
	ebuf_add_num(&eb, "body", env->body);
	ebuf_add_num(&eb, "smtputf8", env->smtputf8);
	ebuf_add_field(&eb, "auth", env->auth);
	ebuf_add_num(&eb, "held", env->held);
	ebuf_add_num(&eb, "warned", env->warned);
	ebuf_add_field(&eb, "prefix", env->prefix != NULL ? env->prefix : "");
	TAILQ_FOREACH(r, &env->rcpts, entry) {
		ebuf_add_field(&eb, "rcpt", r->addr);
		ebuf_add_field(&eb, "orcpt", r->orcpt);
		ebuf_add_num(&eb, "flags", r->flags);
		ebuf_add_field(&eb, "state", state_names[r->state]);
		ebuf_add_num(&eb, "tries", r->tries);
		ebuf_add_num(&eb, "next-try", (uint64_t)r->next_try);
		ebuf_add_field(&eb, "error", r->error);
	}
	ebuf_add(&eb, "end\n", 4);
	if (eb.error) {
		free(eb.buf);
		return NULL;
	}
	*lenp = eb.len;
	return eb.buf;
}

/* Write all of the envelope to fd; -1 with errno (ENOSPC...) on failure. */
int
envelope_write(int fd, const struct envelope *env)
{
	char	*buf;
	size_t	 len, off = 0;
	ssize_t	 n;

	if ((buf = envelope_encode(env, &len)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	while (off < len) {
		n = write(fd, buf + off, len - off);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			free(buf);
			return -1;
		}
		off += n;
	}
	free(buf);
	return 0;
}

/*
 * Parsing.  A cursor over the text yields one line at a time; each
 * expected key is taken in order with its unescaped value.
 */
struct ecursor {
	const char	*p;
	const char	*end;
	int		 line;
	char		*err;
	size_t		 errsz;
};

static int
perr(struct ecursor *c, const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[256];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(c->err, c->errsz, "line %d: %s", c->line, msg);
	return -1;
}

static int
hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

static int
unescape(struct ecursor *c, const char *s, size_t len, char *dst,
    size_t dstsz)
{
	size_t	 i, o = 0;
	int	 hi, lo, ch;

	for (i = 0; i < len; i++) {
		ch = (unsigned char)s[i];
		if (ch < 0x20 || ch == 0x7f)
			return perr(c, "raw control character");
		if (ch == '\\') {
			if (i + 1 < len && s[i + 1] == '\\') {
				i++;
			} else if (i + 3 < len && s[i + 1] == 'x' &&
			    (hi = hexval(s[i + 2])) != -1 &&
			    (lo = hexval(s[i + 3])) != -1) {
				ch = hi << 4 | lo;
				if (ch == 0)
					return perr(c, "NUL in value");
				i += 3;
			} else
				return perr(c, "bad escape");
		}
		if (o + 1 >= dstsz)
			return perr(c, "value too long");
		dst[o++] = ch;
	}
	dst[o] = '\0';
	return 0;
}

/* Take the next line, which must hold key; its value goes to dst. */
static int
take(struct ecursor *c, const char *key, char *dst, size_t dstsz)
{
	const char	*nl, *v;
	size_t		 klen = strlen(key), len;

	c->line++;
	if (c->p >= c->end)
		return perr(c, "truncated, \"%s\" expected", key);
	if ((nl = memchr(c->p, '\n', c->end - c->p)) == NULL)
		return perr(c, "unterminated line");
	len = nl - c->p;
	if (len > ENVELOPE_LINE_MAX)
		return perr(c, "line too long");
	if (len < klen + 1 || memcmp(c->p, key, klen) != 0 ||
	    c->p[klen] != ' ')
		return perr(c, "\"%s\" expected", key);
	v = c->p + klen + 1;
	c->p = nl + 1;
	return unescape(c, v, nl - v, dst, dstsz);
}

static int
take_num(struct ecursor *c, const char *key, uint64_t max, uint64_t *n)
{
	char	 buf[32], *ep;

	if (take(c, key, buf, sizeof(buf)) == -1)
		return -1;
	if (buf[0] < '0' || buf[0] > '9' || (buf[0] == '0' && buf[1] != '\0'))
		return perr(c, "bad number for %s", key);
	errno = 0;
	*n = strtoull(buf, &ep, 10);
	if (*ep != '\0' || errno == ERANGE || *n > max)
		return perr(c, "number out of range for %s", key);
	return 0;
}

static int
take_prefix(struct ecursor *c, struct envelope *env)
{
	char	 buf[PROTO_PREPEND_MAX + 1];

	if (take(c, "prefix", buf, sizeof(buf)) == -1)
		return -1;
	if (buf[0] != '\0' && (env->prefix = strdup(buf)) == NULL)
		return perr(c, "out of memory");
	return 0;
}

static int
parse_rcpt(struct ecursor *c, struct envelope *env, const char *addr)
{
	struct rcpt	*r;
	char		 orcpt[ADDR_MAX + 1], state[16];
	uint64_t	 flags, tries, next;
	int		 i;

	if (*addr == '\0')
		return perr(c, "empty recipient");
	if (take(c, "orcpt", orcpt, sizeof(orcpt)) == -1 ||
	    take_num(c, "flags", 0xff, &flags) == -1 ||
	    take(c, "state", state, sizeof(state)) == -1)
		return -1;
	if ((r = envelope_add_rcpt(env, addr, orcpt, flags)) == NULL)
		return perr(c, "too many recipients");
	for (i = 0; i < 3; i++)
		if (strcmp(state, state_names[i]) == 0)
			break;
	if (i == 3)
		return perr(c, "bad state");
	r->state = i;
	/* Any count the writer may have reached (retries every second). */
	if (take_num(c, "tries", UINT_MAX, &tries) == -1 ||
	    take_num(c, "next-try", INT64_MAX, &next) == -1 ||
	    take(c, "error", r->error, sizeof(r->error)) == -1)
		return -1;
	r->tries = tries;
	r->next_try = next;
	return 0;
}

int
envelope_parse(const char *text, size_t len, struct envelope *env,
    char *err, size_t errsz)
{
	struct ecursor	 c;
	char		 addr[ADDR_MAX + 1];
	uint64_t	 n, version;

	envelope_init(env);
	memset(&c, 0, sizeof(c));
	c.p = text;
	c.end = text + len;
	c.err = err;
	c.errsz = errsz;

	if (take_num(&c, "version", UINT32_MAX, &n) == -1)
		goto fail;
	if (n != 1 && n != 2 && n != ENVELOPE_VERSION) {
		perr(&c, "unknown version %" PRIu64, n);
		goto fail;
	}
	version = n;
	if (take(&c, "id", env->id, sizeof(env->id)) == -1)
		goto fail;
	if (!msgid_valid(env->id)) {
		perr(&c, "bad id");
		goto fail;
	}
	if (take_num(&c, "created", INT64_MAX, &n) == -1)
		goto fail;
	env->created = n;
	if (take(&c, "sender", env->sender, sizeof(env->sender)) == -1 ||
	    take(&c, "helo", env->helo, sizeof(env->helo)) == -1 ||
	    take(&c, "client", env->client, sizeof(env->client)) == -1 ||
	    take_num(&c, "body", 2, &n) == -1)
		goto fail;
	env->body = n;
	if (take_num(&c, "smtputf8", 1, &n) == -1)
		goto fail;
	env->smtputf8 = n;
	if (version >= 2) {
		if (take(&c, "auth", env->auth, sizeof(env->auth)) == -1 ||
		    take_num(&c, "held", 1, &n) == -1)
			goto fail;
		env->held = n;
		if (take_num(&c, "warned", 1, &n) == -1)
			goto fail;
		env->warned = n;
	}
	if (version >= 3 && take_prefix(&c, env) == -1)
		goto fail;

	for (;;) {
		if (c.end - c.p == 4 && memcmp(c.p, "end\n", 4) == 0)
			break;
		if (take(&c, "rcpt", addr, sizeof(addr)) == -1 ||
		    parse_rcpt(&c, env, addr) == -1)
			goto fail;
	}
	if (env->nrcpts == 0) {
		perr(&c, "no recipient");
		goto fail;
	}
	return 0;
 fail:
	envelope_clear(env);
	return -1;
}

int
envelope_load(const char *path, struct envelope *env, char *err,
    size_t errsz)
{
	struct stat	 st;
	char		*buf;
	size_t		 off = 0;
	ssize_t		 n;
	int		 fd, r;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW)) == -1 ||
	    fstat(fd, &st) == -1) {
		snprintf(err, errsz, "%s", strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > ENVELOPE_FILE_MAX) {
		snprintf(err, errsz, "not a regular file or too large");
		close(fd);
		return -1;
	}
	if ((buf = malloc(st.st_size + 1)) == NULL) {
		snprintf(err, errsz, "out of memory");
		close(fd);
		return -1;
	}
	while (off < (size_t)st.st_size) {
		n = read(fd, buf + off, st.st_size - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errsz, "read: %s",
			    n == 0 ? "short file" : strerror(errno));
			free(buf);
			close(fd);
			return -1;
		}
		off += n;
	}
	close(fd);
	r = envelope_parse(buf, off, env, err, errsz);
	free(buf);
	return r;
}
