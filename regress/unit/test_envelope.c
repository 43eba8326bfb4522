/*
 * Unit tests for queue/queue_envelope.c, the reader of the spool after a
 * crash: an envelope survives write and load unchanged, and every bad
 * form of every field - a truncated file, a missing, repeated or unknown
 * line, a number out of range or not a number, a bad queue id, an
 * overlong value, a raw control character, a bad escape, one recipient
 * too many - is refused, while the extremes the queue itself may write
 * (a million tries, the longest address and reply, a null sender, the
 * most recipients) are read back.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "../../queue/queue.h"
#include "unit.h"

/* A version 2 envelope, one line per entry, in the order it is written. */
static const char *base[] = {
	"version 2",
	"id 0123456789abcdef",
	"created 1700000000",
	"sender a@example.org",
	"helo client.example.org",
	"client 192.0.2.1",
	"body 1",
	"smtputf8 0",
	"auth a@example.org",
	"held 0",
	"warned 0",
	"rcpt b@example.org",
	"orcpt b@example.org",
	"flags 1",
	"state pending",
	"tries 0",
	"next-try 0",
	"error ",
	"rcpt c@example.org",
	"orcpt ",
	"flags 0",
	"state done",
	"tries 3",
	"next-try 1700000100",
	"error 250 2.0.0 Ok",
	"end",
};
#define NBASE	(sizeof(base) / sizeof(base[0]))

enum edit_mode { SET, DEL, ADD };

/* The base text with line `at' replaced, deleted, or `line' put before. */
static char *
edited(size_t at, enum edit_mode mode, const char *line, size_t *lenp)
{
	char	*text;
	size_t	 i, size = 1, len = 0;

	for (i = 0; i < NBASE; i++)
		size += strlen(base[i]) + 1;
	if (line != NULL)
		size += strlen(line) + 1;
	if ((text = malloc(size)) == NULL)
		fatal("malloc");
	for (i = 0; i < NBASE; i++) {
		if (i == at && mode != DEL)
			len += sprintf(text + len, "%s\n", line);
		if (i != at || mode == ADD)
			len += sprintf(text + len, "%s\n", base[i]);
	}
	*lenp = len;
	return text;
}

static size_t
line_of(const char *key, int nth)
{
	size_t	 i, klen = strlen(key);

	for (i = 0; i < NBASE; i++)
		if (strncmp(base[i], key, klen) == 0 &&
		    (base[i][klen] == ' ' || base[i][klen] == '\0') &&
		    nth-- == 0)
			return i;
	fatalx("no line %s in the base envelope", key);
}

static int
parse_text(const char *text, size_t len, struct envelope *env)
{
	char	 err[256];
	int	 rv;

	err[0] = '\0';
	rv = envelope_parse(text, len, env, err, sizeof(err));
	/* A refusal always says why, for the log line. */
	if (rv == -1 && err[0] == '\0')
		rv = -2;
	return rv;
}

static int
parse_edit(const char *key, int nth, enum edit_mode mode, const char *line)
{
	struct envelope	 env;
	char		*text;
	size_t		 len;
	int		 rv;

	text = edited(line_of(key, nth), mode, line, &len);
	rv = parse_text(text, len, &env);
	if (rv == 0)
		envelope_clear(&env);
	free(text);
	return rv;
}

static void
sample(struct envelope *env)
{
	struct rcpt	*r;

	envelope_init(env);
	strlcpy(env->id, "00ff00ff00ff00ff", sizeof(env->id));
	env->created = 1700000000;
	/* Escaped on the way out: backslash, controls, DEL; UTF-8 as is. */
	strlcpy(env->sender, "we\\ird\x7f@example.org", sizeof(env->sender));
	strlcpy(env->helo, "h\x01l\no\r \xc3\xa9", sizeof(env->helo));
	strlcpy(env->client, "2001:db8::1", sizeof(env->client));
	env->body = 2;
	env->smtputf8 = 1;
	strlcpy(env->auth, "user@example.org", sizeof(env->auth));
	env->held = 1;
	env->warned = 1;
	if ((r = envelope_add_rcpt(env, "x@example.org", "X@Example.org",
	    0x81)) == NULL)
		fatalx("add_rcpt");
	r->state = RCPT_FAILED;
	r->tries = 1000000;
	r->next_try = INT64_MAX;
	strlcpy(r->error, "550 5.1.1 no\tsuch\\user", sizeof(r->error));
	if ((r = envelope_add_rcpt(env, "y@example.org", "", 0)) == NULL)
		fatalx("add_rcpt");
	r->state = RCPT_PENDING;
}

static int
same_env(const struct envelope *a, const struct envelope *b)
{
	const struct rcpt	*ra, *rb;

	if (strcmp(a->id, b->id) != 0 || a->created != b->created ||
	    strcmp(a->sender, b->sender) != 0 ||
	    strcmp(a->helo, b->helo) != 0 ||
	    strcmp(a->client, b->client) != 0 || a->body != b->body ||
	    a->smtputf8 != b->smtputf8 || strcmp(a->auth, b->auth) != 0 ||
	    a->held != b->held || a->warned != b->warned ||
	    a->nrcpts != b->nrcpts)
		return 0;
	for (ra = TAILQ_FIRST(&a->rcpts), rb = TAILQ_FIRST(&b->rcpts);
	    ra != NULL && rb != NULL;
	    ra = TAILQ_NEXT(ra, entry), rb = TAILQ_NEXT(rb, entry))
		if (strcmp(ra->addr, rb->addr) != 0 ||
		    strcmp(ra->orcpt, rb->orcpt) != 0 ||
		    ra->flags != rb->flags || ra->state != rb->state ||
		    ra->tries != rb->tries || ra->next_try != rb->next_try ||
		    strcmp(ra->error, rb->error) != 0)
			return 0;
	return ra == NULL && rb == NULL;
}

/* envelope_write() to a file, envelope_load() back: the same envelope. */
static void
test_roundtrip(void)
{
	struct envelope	 env, back;
	char		 path[] = "/tmp/test_envelope.XXXXXX", err[256];
	char		*text;
	size_t		 len;
	int		 fd;

	sample(&env);
	if ((fd = mkstemp(path)) == -1)
		fatal("mkstemp");
	CHECK(envelope_write(fd, &env) == 0);
	close(fd);
	CHECK(envelope_load(path, &back, err, sizeof(err)) == 0);
	CHECK(same_env(&env, &back));
	CHECK(back.version == ENVELOPE_VERSION);
	envelope_clear(&back);

	/* The text has one line per field: nothing injected a line. */
	CHECK((text = envelope_encode(&env, &len)) != NULL);
	CHECK(strlen(text) == len);
	CHECK(strstr(text, "\nhelo h\\x01l\\x0ao\\x0d \xc3\xa9\n") != NULL);
	CHECK(strstr(text, "\nsender we\\\\ird\\x7f@example.org\n") != NULL);
	CHECK(parse_text(text, len, &back) == 0);
	CHECK(same_env(&env, &back));
	envelope_clear(&back);

	/* A file cut short (a crash during a write) is refused... */
	if ((fd = open(path, O_WRONLY | O_TRUNC)) == -1)
		fatal("open");
	CHECK(write(fd, text, len - 1) == (ssize_t)(len - 1));
	close(fd);
	CHECK(envelope_load(path, &back, err, sizeof(err)) == -1);
	CHECK(strstr(err, "line") != NULL);
	/* ...as are an empty file, a directory and no file at all. */
	if ((fd = open(path, O_WRONLY | O_TRUNC)) == -1)
		fatal("open");
	close(fd);
	CHECK(envelope_load(path, &back, err, sizeof(err)) == -1);
	unlink(path);
	CHECK(envelope_load(path, &back, err, sizeof(err)) == -1);
	CHECK(envelope_load("/tmp", &back, err, sizeof(err)) == -1);

	free(text);
	envelope_clear(&env);
}

/* The base text parses, with the values it says. */
static void
test_base(void)
{
	struct envelope	 env;
	struct rcpt	*r;
	char		*text;
	size_t		 len;

	text = edited(NBASE, SET, NULL, &len);
	CHECK(parse_text(text, len, &env) == 0);
	CHECK(strcmp(env.id, "0123456789abcdef") == 0);
	CHECK(env.created == 1700000000 && env.body == 1);
	CHECK(env.nrcpts == 2);
	r = TAILQ_FIRST(&env.rcpts);
	CHECK(r != NULL && strcmp(r->addr, "b@example.org") == 0 &&
	    r->flags == 1 && r->state == RCPT_PENDING && r->error[0] == '\0');
	r = TAILQ_LAST(&env.rcpts, rcpt_list);
	CHECK(r != NULL && r->orcpt[0] == '\0' && r->state == RCPT_DONE &&
	    r->tries == 3 && r->next_try == 1700000100 &&
	    strcmp(r->error, "250 2.0.0 Ok") == 0);
	envelope_clear(&env);
	free(text);
}

/* Every strict prefix of a good file lacks its "end": refused. */
static void
test_truncated(void)
{
	struct envelope	 env;
	char		*text;
	size_t		 len, i;

	text = edited(NBASE, SET, NULL, &len);
	for (i = 0; i < len; i++)
		CHECKF(parse_text(text, i, &env) == -1, "prefix of %zu", i);
	free(text);
}

/* Each line left out, or written twice: refused. */
static void
test_missing_and_repeated(void)
{
	struct envelope	 env;
	char		*text;
	size_t		 len, i;

	for (i = 0; i < NBASE; i++) {
		text = edited(i, DEL, NULL, &len);
		CHECKF(parse_text(text, len, &env) == -1, "without %s",
		    base[i]);
		free(text);
		text = edited(i, ADD, base[i], &len);
		CHECKF(parse_text(text, len, &env) == -1, "%s twice",
		    base[i]);
		free(text);
	}
}

static char *
repeat(const char *prefix, int ch, size_t n)
{
	static char	 buf[8192];
	size_t		 plen = strlen(prefix);

	if (plen + n >= sizeof(buf))
		fatalx("repeat");
	memcpy(buf, prefix, plen);
	memset(buf + plen, ch, n);
	buf[plen + n] = '\0';
	return buf;
}

/* prefix and n escaped control characters ("\\x01"). */
static char *
escaped_controls(const char *prefix, size_t n)
{
	static char	 buf[8192];
	size_t		 len, i;

	len = strlcpy(buf, prefix, sizeof(buf));
	for (i = 0; i < n && len + 5 < sizeof(buf); i++)
		len += strlcpy(buf + len, "\\x01", sizeof(buf) - len);
	return buf;
}

struct field_case {
	const char	*key;
	int		 nth;
	const char	*line;
	int		 ok;
};

static const struct field_case field_cases[] = {
	/* Counts the queue may reach: accepted. */
	{ "tries", 0, "tries 1000000", 1 },
	{ "tries", 0, "tries 4294967295", 1 },
	{ "next-try", 0, "next-try 9223372036854775807", 1 },
	{ "created", 0, "created 9223372036854775807", 1 },
	{ "flags", 0, "flags 255", 1 },
	{ "body", 0, "body 0", 1 },
	{ "body", 0, "body 2", 1 },
	{ "smtputf8", 0, "smtputf8 1", 1 },
	{ "held", 0, "held 1", 1 },
	{ "warned", 0, "warned 1", 1 },
	{ "state", 0, "state failed", 1 },
	{ "sender", 0, "sender ", 1 },		/* the null sender */
	{ "auth", 0, "auth ", 1 },
	{ "helo", 0, "helo a\\\\b\\x01\\x7f", 1 },
	{ "id", 0, "id ffffffffffffffff", 1 },
	/* Beyond what each field holds. */
	{ "tries", 0, "tries 4294967296", 0 },
	{ "tries", 0, "tries 99999999999999999999999", 0 },
	{ "next-try", 0, "next-try 9223372036854775808", 0 },
	{ "next-try", 0, "next-try 18446744073709551615", 0 },
	{ "created", 0, "created 9223372036854775808", 0 },
	{ "flags", 0, "flags 256", 0 },
	{ "body", 0, "body 3", 0 },
	{ "smtputf8", 0, "smtputf8 2", 0 },
	{ "held", 0, "held 2", 0 },
	{ "warned", 0, "warned 2", 0 },
	{ "version", 0, "version 4", 0 },
	{ "version", 0, "version 0", 0 },
	{ "version", 0, "version 4294967298", 0 },
	/* Not numbers. */
	{ "tries", 0, "tries -1", 0 },
	{ "tries", 0, "tries +1", 0 },
	{ "tries", 0, "tries 01", 0 },
	{ "tries", 0, "tries 0x10", 0 },
	{ "tries", 0, "tries 1e6", 0 },
	{ "tries", 0, "tries 1 ", 0 },
	{ "tries", 0, "tries  1", 0 },
	{ "tries", 0, "tries ", 0 },
	{ "tries", 0, "tries abc", 0 },
	{ "tries", 0, "tries 1\\x00", 0 },
	{ "created", 0, "created -1", 0 },
	{ "version", 0, "version 02", 0 },
	{ "flags", 1, "flags 0\r", 0 },
	/* Queue ids: 16 lowercase hex digits, nothing else. */
	{ "id", 0, "id 0123456789ABCDEF", 0 },
	{ "id", 0, "id 0123456789abcde", 0 },
	{ "id", 0, "id 0123456789abcdef0", 0 },
	{ "id", 0, "id 0123456789abcdeg", 0 },
	{ "id", 0, "id ../../etc/passw", 0 },
	{ "id", 0, "id ", 0 },
	{ "id", 0, "id 0123456789abcde\\x66", 1 },	/* escaped 'f' */
	/* Keys: exact, one space, in their place. */
	{ "tries", 0, "Tries 0", 0 },
	{ "tries", 0, "tries\t0", 0 },
	{ "tries", 0, "tries0", 0 },
	{ "tries", 0, "tries", 0 },
	{ "tries", 0, "next-try 0", 0 },
	{ "end", 0, "unknown 1", 0 },
	{ "end", 0, "end ", 0 },
	{ "rcpt", 1, "end", 0 },
	/* Recipients and states. */
	{ "rcpt", 0, "rcpt ", 0 },
	{ "state", 0, "state PENDING", 0 },
	{ "state", 0, "state ", 0 },
	{ "state", 0, "state pendingx", 0 },
	{ "state", 0, "state 0", 0 },
	/* Raw controls and bad escapes. */
	{ "helo", 0, "helo a\tb", 0 },
	{ "helo", 0, "helo a\rb", 0 },
	{ "helo", 0, "helo a\x7f", 0 },
	{ "helo", 0, "helo a\\qb", 0 },
	{ "helo", 0, "helo a\\x0", 0 },
	{ "helo", 0, "helo a\\x00", 0 },
	{ "helo", 0, "helo a\\x0A", 0 },
	{ "helo", 0, "helo a\\", 0 },
	{ "helo", 0, "helo a\\x", 0 },
};

static void
test_fields(void)
{
	const struct field_case	*fc;
	size_t			 i;
	int			 rv;

	for (i = 0; i < sizeof(field_cases) / sizeof(field_cases[0]); i++) {
		fc = &field_cases[i];
		rv = parse_edit(fc->key, fc->nth, SET, fc->line);
		CHECKF(rv == (fc->ok ? 0 : -1), "\"%s\": %d", fc->line, rv);
	}
}

/* The longest value of each field is read; one byte more is not. */
static void
test_lengths(void)
{
	CHECK(parse_edit("sender", 0, SET,
	    repeat("sender ", 'a', ADDR_MAX)) == 0);
	CHECK(parse_edit("sender", 0, SET,
	    repeat("sender ", 'a', ADDR_MAX + 1)) == -1);
	CHECK(parse_edit("rcpt", 0, SET, repeat("rcpt ", 'a', ADDR_MAX)) == 0);
	CHECK(parse_edit("rcpt", 0, SET,
	    repeat("rcpt ", 'a', ADDR_MAX + 1)) == -1);
	CHECK(parse_edit("orcpt", 0, SET,
	    repeat("orcpt ", 'a', ADDR_MAX + 1)) == -1);
	CHECK(parse_edit("helo", 0, SET,
	    repeat("helo ", 'a', HELO_MAX - 1)) == 0);
	CHECK(parse_edit("helo", 0, SET, repeat("helo ", 'a', HELO_MAX)) == -1);
	CHECK(parse_edit("client", 0, SET,
	    repeat("client ", 'a', CLIENT_MAX)) == -1);
	CHECK(parse_edit("auth", 0, SET,
	    repeat("auth ", 'a', ADDR_MAX + 1)) == -1);
	CHECK(parse_edit("error", 0, SET,
	    repeat("error ", 'a', REPLY_MAX - 1)) == 0);
	CHECK(parse_edit("error", 0, SET,
	    repeat("error ", 'a', REPLY_MAX)) == -1);
	/* A reply of controls escapes to four bytes each and still fits... */
	CHECK(parse_edit("error", 0, SET, escaped_controls("error ",
	    REPLY_MAX - 1)) == 0);
	/* ...but a line longer than any value can escape to is refused. */
	CHECK(parse_edit("error", 0, SET,
	    repeat("error ", 'a', 4 * REPLY_MAX + 64)) == -1);
	CHECK(parse_edit("state", 0, SET,
	    repeat("state ", 'p', 4000)) == -1);
}

/* Version 1: no auth, held or warned lines; they read as empty and 0. */
static void
test_version1(void)
{
	struct envelope	 env;
	char		 text[2048];
	size_t		 i, len = 0;

	for (i = 0; i < NBASE; i++) {
		if (i == 0)
			len += snprintf(text + len, sizeof(text) - len,
			    "version 1\n");
		else if (strncmp(base[i], "auth ", 5) != 0 &&
		    strncmp(base[i], "held ", 5) != 0 &&
		    strncmp(base[i], "warned ", 7) != 0)
			len += snprintf(text + len, sizeof(text) - len, "%s\n",
			    base[i]);
	}
	CHECK(parse_text(text, len, &env) == 0);
	CHECK(env.auth[0] == '\0' && env.held == 0 && env.warned == 0);
	CHECK(env.nrcpts == 2);
	envelope_clear(&env);
	/* A version 2 file must have them. */
	memcpy(text, "version 2", 9);
	CHECK(parse_text(text, len, &env) == -1);
}

/*
 * Version 3: the prefix line, header fields with their CRLFs escaped,
 * read back as they were; version 2 files have none.
 */
static void
test_prefix(void)
{
	struct envelope	 env, back;
	const char	*fields = "Authentication-Results: mx.example; "
			    "spf=pass\r\n\tsmtp.mailfrom=a@example.org\r\n"
			    "Received-SPF: pass\r\n";
	char		*text, buf[PROTO_PREPEND_MAX + 1];
	size_t		 len;

	sample(&env);
	CHECK((env.prefix = strdup(fields)) != NULL);
	CHECK((text = envelope_encode(&env, &len)) != NULL);
	CHECK(strstr(text, "\nprefix Authentication-Results: mx.example; "
	    "spf=pass\\x0d\\x0a\\x09smtp.mailfrom") != NULL);
	CHECK(parse_text(text, len, &back) == 0);
	CHECK(back.prefix != NULL && strcmp(back.prefix, fields) == 0);
	envelope_clear(&back);
	CHECK(back.prefix == NULL);
	free(text);
	/* The longest prefix the engine may send fits. */
	memset(buf, 'a', sizeof(buf) - 1);
	buf[sizeof(buf) - 1] = '\0';
	buf[0] = '\r';
	free(env.prefix);
	CHECK((env.prefix = strdup(buf)) != NULL);
	CHECK((text = envelope_encode(&env, &len)) != NULL);
	CHECK(parse_text(text, len, &back) == 0);
	CHECK(back.prefix != NULL && strcmp(back.prefix, buf) == 0);
	envelope_clear(&back);
	free(text);
	envelope_clear(&env);
	/* A version 2 text (the base) has no prefix. */
	text = edited(NBASE, SET, NULL, &len);
	CHECK(parse_text(text, len, &back) == 0);
	CHECK(back.prefix == NULL);
	envelope_clear(&back);
}

/* Around the "end" line and between recipients. */
static void
test_framing(void)
{
	struct envelope	 env;
	char		*text, buf[4096];
	size_t		 len;

	text = edited(NBASE, SET, NULL, &len);
	/* Anything after "end", even a newline, is refused. */
	memcpy(buf, text, len);
	memcpy(buf + len, "\n", 1);
	CHECK(parse_text(buf, len + 1, &env) == -1);
	memcpy(buf + len, "end\n", 4);
	CHECK(parse_text(buf, len + 4, &env) == -1);
	/* "end" without its newline is a truncated file. */
	CHECK(parse_text(text, len - 1, &env) == -1);
	/* A NUL inside a line. */
	memcpy(buf, text, len);
	buf[strstr(text, "client.example") - text] = '\0';
	CHECK(parse_text(buf, len, &env) == -1);
	/* CRLF line ends. */
	CHECK(parse_edit("version", 0, SET, "version 2\r") == -1);
	/* No recipient at all. */
	len = 0;
	for (size_t i = 0; i < NBASE; i++)
		if (i < line_of("rcpt", 0) || i == NBASE - 1)
			len += snprintf(buf + len, sizeof(buf) - len, "%s\n",
			    base[i]);
	CHECK(parse_text(buf, len, &env) == -1);
	CHECK(parse_text("", 0, &env) == -1);
	free(text);
}

/* ENVELOPE_RCPT_MAX recipients are read; one more is refused. */
static void
test_many_recipients(void)
{
	struct envelope	 env;
	char		*text;
	size_t		 i, n, len, size, head;

	head = line_of("rcpt", 0);
	size = 4096 + (ENVELOPE_RCPT_MAX + 1) * 96;
	if ((text = malloc(size)) == NULL)
		fatal("malloc");
	for (n = ENVELOPE_RCPT_MAX; n <= ENVELOPE_RCPT_MAX + 1; n++) {
		len = 0;
		for (i = 0; i < head; i++)
			len += snprintf(text + len, size - len, "%s\n",
			    base[i]);
		for (i = 0; i < n; i++)
			len += snprintf(text + len, size - len,
			    "rcpt r%zu@example.org\norcpt \nflags 1\n"
			    "state pending\ntries 0\nnext-try 0\nerror \n", i);
		len += snprintf(text + len, size - len, "end\n");
		if (n == ENVELOPE_RCPT_MAX) {
			CHECK(parse_text(text, len, &env) == 0);
			CHECK(env.nrcpts == ENVELOPE_RCPT_MAX);
			envelope_clear(&env);
		} else
			CHECK(parse_text(text, len, &env) == -1);
	}
	free(text);
}

int
main(void)
{
	log_init(1, "test_envelope");
	test_roundtrip();
	test_base();
	test_truncated();
	test_missing_and_repeated();
	test_fields();
	test_lengths();
	test_version1();
	test_prefix();
	test_framing();
	test_many_recipients();
	return unit_done("test_envelope");
}
