/*
 * fuzz_smtp_cmd: libFuzzer target for smtpd/smtp_parse.c.  Every input
 * goes through every parser.  The first byte picks the flags, limits
 * and buffer sizes, the rest is the client's text.  Besides crashes it
 * checks what the parsers promise: pointers stay inside the input, a
 * SIZE is the number written and within the limit, a decoded SASL
 * response fits its buffer and has the length its base64 implies, and
 * the BDAT and AUTH splits agree with a plain strsep(3) reading of the
 * same words (the way the session parsed them before).
 *
 * Build and run from the top of the tree:
 *   make regress/fuzz/fuzz_smtp_cmd
 *   ./regress/fuzz/fuzz_smtp_cmd -max_total_time=60 -max_len=4096
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "../../smtpd/smtp_parse.h"

#define IN_MAX		16384
#define B64_OUT_MAX	2048	/* SMTP_AUTH_MAX */

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char	*verbs[] = { "HELO", "EHLO", "STARTTLS", "MAIL",
    "RCPT", "DATA", "BDAT", "RSET", "NOOP", "QUIT", "VRFY", "EXPN", "HELP",
    "AUTH" };

static char	 in[IN_MAX + 1], work[IN_MAX + 1], out[B64_OUT_MAX];

static int
inside(const char *p, const char *buf)
{
	return p >= buf && p <= buf + strlen(buf);
}

/* The decimal value of 1*20DIGIT as a string without leading zeros. */
static void
check_size(const char *p, int r, size_t sz)
{
	char	 want[32];
	size_t	 n = strlen(p), i;

	for (i = 0; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			break;
	if (n == 0 || n > 20 || i < n) {
		if (r != -1)
			abort();
		return;
	}
	while (*p == '0' && p[1] != '\0')
		p++;
	snprintf(want, sizeof(want), "%zu", (size_t)SIZE_MAX);
	if (r == 1) {
		/* Over: more digits than SIZE_MAX, or as many and bigger. */
		if (sz != SIZE_MAX || strlen(p) < strlen(want) ||
		    (strlen(p) == strlen(want) && strcmp(p, want) <= 0))
			abort();
		return;
	}
	snprintf(want, sizeof(want), "%zu", sz);
	if (r != 0 || strcmp(p, want) != 0)
		abort();
}

static void
fuzz_command(void)
{
	struct smtp_cmd	 cmd;
	enum smtp_verb	 v;
	size_t		 len;

	/* A C string has no NUL inside. */
	if (smtp_check_line(in, strlen(in), 0) == -1)
		abort();
	memcpy(work, in, strlen(in) + 1);
	v = smtp_parse_command(work, &cmd);
	/* The verb is cut off in place: the args are in what was in. */
	if (v != cmd.verb || v < CMD_EMPTY || v >= CMD_NVERBS ||
	    cmd.args < work || cmd.args > work + strlen(in))
		abort();
	len = strlen(work);
	if ((v == CMD_EMPTY) != (len == 0 && *cmd.args == '\0'))
		abort();
	if (v >= CMD_HELO && strcasecmp(work, verbs[v - CMD_HELO]) != 0)
		abort();
	if (v == CMD_UNKNOWN && (strchr(work, ' ') != NULL))
		abort();
	len = strlen(cmd.args);
	if (len > 0 && (cmd.args[len - 1] == ' ' ||
	    cmd.args[len - 1] == '\t'))
		abort();
}

static void
fuzz_helo(void)
{
	const char	*p;

	if (smtp_parse_helo(in) != 0)
		return;
	if (strlen(in) == 0 || strlen(in) > SMTP_HELO_MAX)
		abort();
	for (p = in; *p != '\0'; p++)
		if (*p <= ' ' || *p >= 0x7f)
			abort();
}

static void
fuzz_mail(size_t max_size)
{
	struct smtp_mail_params	 mp;
	struct mailaddr		 a;
	const char		*from, *rest;
	char			*copy, *p, *param, *val;
	size_t			 sz = 0;
	int			 r, seen = 0;

	if ((from = smtp_skip_keyword(in, "FROM:")) != NULL &&
	    (from != in + 5 || strncasecmp(in, "FROM:", 5) != 0))
		abort();
	if (from == NULL)
		from = in;
	if (smtp_parse_mail_from(from, &a, &rest) == 0 &&
	    !inside(rest, in))
		abort();
	(void)smtp_addr_is_8bit(&a);
	/* The parameters: every input is a parameter list too. */
	rest = in;
	r = smtp_parse_mail_params(rest, max_size, &mp);
	if (r == PARAM_UNSUPPORTED && (!inside(mp.bad, in) ||
	    mp.bad + mp.badlen > in + strlen(in)))
		abort();
	if (r != PARAM_OK)
		return;
	/* What was accepted, read again word by word: the same answer. */
	if ((copy = strdup(in)) == NULL)
		return;
	p = copy;
	while ((param = strsep(&p, " ")) != NULL) {
		if (*param == '\0')
			continue;
		if ((val = strchr(param, '=')) == NULL)
			continue;
		*val++ = '\0';
		if (strcasecmp(param, "SIZE") == 0) {
			r = smtp_parse_size(val, &sz);
			check_size(val, r, sz);
			/* Past size_t is SIZE_MAX: only a limit that big. */
			if (r == -1 || sz > max_size)
				abort();
			seen = 1;
		}
	}
	if (mp.has_size != seen || (seen && (mp.size != sz ||
	    mp.size > max_size)))
		abort();
	free(copy);
}

static void
fuzz_rcpt(int flags)
{
	struct mailaddr	 a;
	int		 r, pm;

	r = smtp_parse_rcpt_to(in, flags, &a, &pm);
	if (r != 0 && r != -1 && r != -2)
		abort();
	if (pm && (r == -1 || a.local[0] != '\0' || a.domain[0] != '\0'))
		abort();
	if (r == 0 && !pm && !(flags & ADDR_ALLOW_NULL) && addr_is_null(&a))
		abort();
}

static void
fuzz_bdat(void)
{
	char	*copy, *p, *sz, *last;
	size_t	 size, want;
	int	 r, islast, ok;

	r = smtp_parse_bdat(in, &size, &islast);
	if ((copy = strdup(in)) == NULL)
		return;
	p = copy;
	sz = strsep(&p, " ");
	last = p;
	ok = smtp_parse_size(sz, &want) == 0 &&
	    (last == NULL || strcasecmp(last, "LAST") == 0);
	if (ok != (r == 0) || (ok && (size != want ||
	    islast != (last != NULL))))
		abort();
	free(copy);
}

static void
fuzz_auth(void)
{
	struct smtp_auth_args	 aa;
	char			*copy, *p, *mech, *initial;
	int			 r, ok;

	r = smtp_parse_auth(in, &aa);
	if ((copy = strdup(in)) == NULL)
		return;
	p = copy;
	mech = strsep(&p, " ");
	initial = p;
	ok = *mech != '\0' && (initial == NULL ||
	    (*initial != '\0' && strchr(initial, ' ') == NULL));
	if (ok != (r == 0))
		abort();
	if (ok) {
		if ((initial == NULL) != (aa.initial == NULL) ||
		    (initial != NULL && (!inside(aa.initial, in) ||
		    strcmp(initial, aa.initial) != 0)))
			abort();
		if (aa.mech != (strcasecmp(mech, "PLAIN") == 0 ? SASL_PLAIN :
		    strcasecmp(mech, "LOGIN") == 0 ? SASL_LOGIN :
		    SASL_UNKNOWN))
			abort();
	}
	free(copy);
}

static void
fuzz_sasl(size_t outsz)
{
	struct sasl_plain	 sp;
	size_t			 len, inlen, pad = 0;
	int			 r;

	r = sasl_base64_decode(in, out, outsz, &len);
	if (r == -2 || r == -1) {
		if (len != 0)
			abort();
		return;
	}
	if (r != 0 || len >= outsz || out[len] != '\0')
		abort();
	inlen = strlen(in);
	if (strcmp(in, "=") == 0) {
		if (len != 0)
			abort();
	} else {
		if (inlen % 4 != 0)
			abort();
		if (inlen > 0 && in[inlen - 1] == '=')
			pad++;
		if (inlen > 1 && in[inlen - 2] == '=')
			pad++;
		if (len != inlen / 4 * 3 - pad)
			abort();
	}
	if (sasl_plain_split(out, len, &sp) == -1)
		return;
	if (sp.authzid != out || sp.authcid <= sp.authzid ||
	    sp.pass <= sp.authcid || sp.pass > out + len ||
	    sp.passlen != (size_t)(out + len - sp.pass) ||
	    sp.pass[sp.passlen] != '\0' || strlen(sp.pass) != sp.passlen ||
	    strlen(sp.authzid) + 1 + strlen(sp.authcid) + 1 + sp.passlen !=
	    len)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t	 limits[] = { 0, 1, 1000, 10485760,
	    SIZE_MAX - 1, SIZE_MAX };
	static const size_t	 outsizes[] = { B64_OUT_MAX, 1, 2, 3, 4, 7,
	    64, 1024 };
	uint8_t			 k;
	int			 r;

	if (size < 1 || size - 1 > IN_MAX)
		return 0;
	k = data[0];
	/* The session sees the line up to the first NUL, if it takes it. */
	memcpy(in, data + 1, size - 1);
	in[size - 1] = '\0';
	r = smtp_check_line((const char *)data + 1, size - 1, k & 1);
	if ((r == 0) != (memchr(data + 1, '\0', size - 1) == NULL &&
	    (!(k & 1) || memchr(data + 1, '\r', size - 1) == NULL)))
		abort();

	fuzz_command();
	fuzz_helo();
	fuzz_mail(limits[(k >> 1) % (sizeof(limits) / sizeof(limits[0]))]);
	fuzz_rcpt((k >> 4) & (ADDR_ALLOW_NULL | ADDR_ALLOW_UTF8 |
	    ADDR_ALLOW_NOBRACKET));
	fuzz_bdat();
	fuzz_auth();
	fuzz_sasl(outsizes[(k >> 5) % (sizeof(outsizes) /
	    sizeof(outsizes[0]))]);
	return 0;
}
