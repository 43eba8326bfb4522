/*
 * fuzz_lmtp_cmd: libFuzzer target for lmtpd/lmtp_parse.c.  Every input
 * goes through every parser, and then the way the session chains them
 * (verb, MAIL FROM path, parameters).  The first byte picks the SIZE
 * limit, the rest is the client's text.  Besides crashes it checks what
 * the parsers promise: the line is not changed, pointers stay inside
 * it, the verb and the parameter verdicts agree with a plain strsep(3)
 * and strtoll(3) reading of the same words (the way the session parsed
 * them before), a SIZE is within the limit, and a recipient accepted
 * after "TO:" is accepted as the same sender after "FROM:".
 *
 * Build and run from the top of the tree:
 *   make regress/fuzz/fuzz_lmtp_cmd
 *   ./regress/fuzz/fuzz_lmtp_cmd -max_total_time=60 -max_len=4096
 */

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "../../lmtpd/lmtp_parse.h"

#define IN_MAX		16384

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char	*verbs[LMTP_CMD_NVERBS] = { NULL, "LHLO", "MAIL",
    "RCPT", "DATA", "RSET", "NOOP", "QUIT", "VRFY", "HELP", "HELO",
    "EHLO" };

static char	 in[IN_MAX + 1], work[IN_MAX + 1], from[IN_MAX + 8];

static int
inside(const char *p, const char *buf)
{
	return p >= buf && p <= buf + strlen(buf);
}

static int
same_addr(const struct mailaddr *a, const struct mailaddr *b)
{
	return strcmp(a->local, b->local) == 0 &&
	    strcmp(a->domain, b->domain) == 0;
}

static void
fuzz_command(void)
{
	struct lmtp_cmd	 cmd;
	enum lmtp_verb	 v, want = LMTP_CMD_UNKNOWN;
	const char	*args;
	size_t		 n;
	int		 i;

	memcpy(work, in, strlen(in) + 1);
	v = lmtp_parse_command(work, &cmd);
	if (v != cmd.verb || v < LMTP_CMD_UNKNOWN || v >= LMTP_CMD_NVERBS)
		abort();
	/* The session passes args on; the line itself stays as it came. */
	if (strcmp(work, in) != 0 || !inside(cmd.args, work))
		abort();
	n = strcspn(in, " ");
	for (args = in + n; *args == ' '; args++)
		;
	if (cmd.args - work != args - in)
		abort();
	for (i = 1; i < LMTP_CMD_NVERBS; i++)
		if (strlen(verbs[i]) == n && strncasecmp(in, verbs[i], n) == 0)
			want = i;
	if (v != want)
		abort();
}

static enum lmtp_param_result
params_reference(const char *p, size_t max_size,
    struct lmtp_mail_params *mp)
{
	char		*copy, *s, *word, *val, *end;
	long long	 ll;
	enum lmtp_param_result r = LMTP_PARAM_OK;

	memset(mp, 0, sizeof(*mp));
	if ((copy = strdup(p)) == NULL)
		abort();
	s = copy;
	while (r == LMTP_PARAM_OK && (word = strsep(&s, " ")) != NULL) {
		/*
		 * Spaces between parameters are one separator; leading
		 * ones (never there: the path parser skips them) make an
		 * empty first parameter, which nobody supports.
		 */
		if (*word == '\0') {
			if (word == copy && s != NULL)
				r = LMTP_PARAM_UNSUPPORTED;
			continue;
		}
		if (strlen(word) >= LMTP_PARAM_MAX) {
			r = LMTP_PARAM_TOO_LONG;
			break;
		}
		if ((val = strchr(word, '=')) != NULL)
			*val++ = '\0';
		if (val == NULL && strcasecmp(word, "SMTPUTF8") == 0)
			mp->smtputf8 = 1;
		else if (val != NULL && strcasecmp(word, "BODY") == 0 &&
		    strcasecmp(val, "7BIT") == 0)
			mp->body8bit = 0;
		else if (val != NULL && strcasecmp(word, "BODY") == 0 &&
		    strcasecmp(val, "8BITMIME") == 0)
			mp->body8bit = 1;
		else if (val != NULL && strcasecmp(word, "SIZE") == 0) {
			errno = 0;
			ll = strtoll(val, &end, 10);
			if (end == val || *end != '\0' || errno == ERANGE ||
			    ll < 0)
				r = LMTP_PARAM_BAD_SIZE;
			else if ((unsigned long long)ll > max_size)
				r = LMTP_PARAM_TOO_BIG;
			else {
				mp->has_size = 1;
				mp->size = ll;
			}
		} else
			r = LMTP_PARAM_UNSUPPORTED;
	}
	free(copy);
	return r;
}

static void
fuzz_params(const char *p, size_t max_size)
{
	struct lmtp_mail_params	 mp, want;
	enum lmtp_param_result	 r;

	r = lmtp_parse_mail_params(p, max_size, &mp);
	if (r != params_reference(p, max_size, &want))
		abort();
	if (r != LMTP_PARAM_OK)
		return;
	if (mp.has_size != want.has_size || mp.size != want.size ||
	    mp.body8bit != want.body8bit || mp.smtputf8 != want.smtputf8)
		abort();
	if (mp.has_size && (mp.size < 0 ||
	    (unsigned long long)mp.size > max_size))
		abort();
}

/* The path after a keyword: as addr_parse_path() reads it alone. */
static const char *
after_keyword(const char *args, const char *keyword)
{
	if (strncasecmp(args, keyword, strlen(keyword)) != 0)
		return NULL;
	for (args += strlen(keyword); *args == ' '; args++)
		;
	return args;
}

static void
fuzz_mail(const char *args, size_t max_size)
{
	struct mailaddr		 a, b;
	enum lmtp_path_result	 r;
	const char		*path, *rest, *rest2;

	r = lmtp_parse_mail_from(args, &a, &rest);
	if ((path = after_keyword(args, "FROM:")) == NULL) {
		if (r != LMTP_PATH_SYNTAX)
			abort();
		return;
	}
	if (addr_parse_path(path, &b, ADDR_ALLOW_NULL | ADDR_ALLOW_UTF8,
	    &rest2) == -1) {
		if (r != LMTP_PATH_BAD)
			abort();
		return;
	}
	if (r != LMTP_PATH_OK || !same_addr(&a, &b) || rest != rest2 ||
	    !inside(rest, args) || *rest == ' ')
		abort();
	fuzz_params(rest, max_size);
}

static void
fuzz_rcpt(const char *args)
{
	struct mailaddr		 a, b;
	enum lmtp_path_result	 r, rf;
	const char		*path, *rest;

	r = lmtp_parse_rcpt_to(args, &a);
	if (r < LMTP_PATH_OK || r > LMTP_PATH_PARAMS)
		abort();
	if ((path = after_keyword(args, "TO:")) == NULL) {
		if (r != LMTP_PATH_SYNTAX)
			abort();
		return;
	}
	if (r == LMTP_PATH_SYNTAX)
		abort();
	if (r == LMTP_PATH_BAD)
		return;
	if (addr_is_null(&a))
		abort();
	/* What RCPT takes, MAIL takes too, with the same address. */
	snprintf(from, sizeof(from), "FROM:%s", path);
	rf = lmtp_parse_mail_from(from, &b, &rest);
	if (rf != LMTP_PATH_OK || !same_addr(&a, &b) ||
	    (r == LMTP_PATH_OK) != (*rest == '\0'))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t	 limits[] = { 0, 1, 1000, 36700160,
	    (size_t)LLONG_MAX, SIZE_MAX };
	struct lmtp_cmd		 cmd;
	size_t			 max_size;
	int			 r;

	if (size < 1 || size - 1 > IN_MAX)
		return 0;
	max_size = limits[data[0] % (sizeof(limits) / sizeof(limits[0]))];
	/* The session sees the line up to the first NUL, if it takes it. */
	memcpy(in, data + 1, size - 1);
	in[size - 1] = '\0';
	r = lmtp_check_line((const char *)data + 1, size - 1);
	if ((r == 0) != (memchr(data + 1, '\0', size - 1) == NULL))
		abort();

	fuzz_command();
	fuzz_mail(in, max_size);
	fuzz_params(in, max_size);
	fuzz_rcpt(in);

	/* As the session chains them: verb, then its arguments. */
	memcpy(work, in, strlen(in) + 1);
	switch (lmtp_parse_command(work, &cmd)) {
	case LMTP_CMD_MAIL:
		fuzz_mail(cmd.args, max_size);
		break;
	case LMTP_CMD_RCPT:
		fuzz_rcpt(cmd.args);
		break;
	default:
		break;
	}
	return 0;
}
