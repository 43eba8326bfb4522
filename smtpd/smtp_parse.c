/*
 * The parsers of what an SMTP client sends: command lines (RFC 5321
 * 4.1.1), MAIL FROM and RCPT TO paths and MAIL parameters (RFC 1870
 * SIZE, RFC 6152 BODY, RFC 6531 SMTPUTF8), BDAT (RFC 3030), AUTH and
 * the SASL responses (RFC 4954, RFC 4616).  No session state and no
 * I/O here: the callers choose the replies, and the fuzz target can
 * reach every function.
 */

#include <sys/types.h>

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "smtp_parse.h"

static const char *const smtp_verbs[CMD_NVERBS] = {
	[CMD_HELO] = "HELO",
	[CMD_EHLO] = "EHLO",
	[CMD_STARTTLS] = "STARTTLS",
	[CMD_MAIL] = "MAIL",
	[CMD_RCPT] = "RCPT",
	[CMD_DATA] = "DATA",
	[CMD_BDAT] = "BDAT",
	[CMD_RSET] = "RSET",
	[CMD_NOOP] = "NOOP",
	[CMD_QUIT] = "QUIT",
	[CMD_VRFY] = "VRFY",
	[CMD_EXPN] = "EXPN",
	[CMD_HELP] = "HELP",
	[CMD_AUTH] = "AUTH",
};

static int	word_is(const char *, size_t, const char *);

/* Commands may end in a bare LF; a CR or NUL inside is garbage. */
int
smtp_check_line(const char *line, size_t len, int bare)
{
	if (memchr(line, '\0', len) != NULL ||
	    (bare && memchr(line, '\r', len) != NULL))
		return -1;
	return 0;
}

enum smtp_verb
smtp_parse_command(char *line, struct smtp_cmd *cmd)
{
	size_t	 len, n;
	int	 v;

	/* Trailing blanks are a common client sloppiness, not an error. */
	len = strlen(line);
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		line[--len] = '\0';
	n = strcspn(line, " ");
	cmd->args = line + n;
	if (*cmd->args == ' ')
		*cmd->args++ = '\0';
	cmd->verb = len == 0 ? CMD_EMPTY : CMD_UNKNOWN;
	for (v = 0; v < CMD_NVERBS; v++) {
		if (smtp_verbs[v] != NULL && strcasecmp(line,
		    smtp_verbs[v]) == 0) {
			cmd->verb = v;
			break;
		}
	}
	return cmd->verb;
}

int
smtp_parse_helo(const char *p)
{
	size_t	 n = 0;

	for (; *p != '\0'; p++, n++)
		if (*p < 0x21 || *p > 0x7e)
			return -1;
	return n > 0 && n <= SMTP_HELO_MAX ? 0 : -1;
}

/*
 * RFC 1870 size-value, RFC 3030 chunk-size.  A value past size_t is
 * too big for any limit, but not a syntax error.
 */
int
smtp_parse_size(const char *p, size_t *sz)
{
	size_t	 v = 0;
	int	 over = 0;

	if (*p == '\0' || strlen(p) > 20)
		return -1;
	for (; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		if (v > (SIZE_MAX - (*p - '0')) / 10)
			over = 1;
		else
			v = v * 10 + (*p - '0');
	}
	*sz = over ? SIZE_MAX : v;
	return over;
}

/* The word of n bytes at p is s, ignoring case. */
static int
word_is(const char *p, size_t n, const char *s)
{
	return strlen(s) == n && strncasecmp(p, s, n) == 0;
}

/* A size word of n bytes at p, which is not NUL-terminated there. */
static int
parse_size_word(const char *p, size_t n, size_t *sz)
{
	char	 buf[32];

	if (n >= sizeof(buf))
		return -1;
	memcpy(buf, p, n);
	buf[n] = '\0';
	return smtp_parse_size(buf, sz);
}

const char *
smtp_skip_keyword(const char *args, const char *keyword)
{
	size_t	 n = strlen(keyword);

	if (strncasecmp(args, keyword, n) != 0)
		return NULL;
	return args + n;
}

int
smtp_parse_mail_from(const char *args, struct mailaddr *a,
    const char **rest)
{
	return addr_parse_path(args, a, ADDR_ALLOW_NULL | ADDR_ALLOW_UTF8 |
	    ADDR_ALLOW_NOBRACKET, rest);
}

/* Parameters are separated by spaces; a run of them counts as one. */
enum smtp_param_result
smtp_parse_mail_params(const char *p, size_t max_size,
    struct smtp_mail_params *mp)
{
	const char	*val;
	size_t		 n, namelen, vallen, size;

	memset(mp, 0, sizeof(*mp));
	mp->body = BODY_7BIT;
	for (;;) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			return PARAM_OK;
		n = strcspn(p, " ");
		namelen = strcspn(p, "=");
		if (namelen < n) {
			val = p + namelen + 1;
			vallen = n - namelen - 1;
		} else {
			namelen = n;
			val = NULL;
			vallen = 0;
		}
		if (word_is(p, namelen, "SIZE") && val != NULL) {
			if (parse_size_word(val, vallen, &size) == -1)
				return PARAM_BAD_SIZE;
			if (size > max_size)
				return PARAM_TOO_BIG;
			mp->has_size = 1;
			mp->size = size;
		} else if (word_is(p, namelen, "BODY") && val != NULL) {
			if (word_is(val, vallen, "7BIT"))
				mp->body = BODY_7BIT;
			else if (word_is(val, vallen, "8BITMIME"))
				mp->body = BODY_8BITMIME;
			else if (word_is(val, vallen, "BINARYMIME"))
				return PARAM_BINARYMIME;
			else
				return PARAM_BAD_BODY;
		} else if (word_is(p, namelen, "SMTPUTF8") && val == NULL)
			mp->smtputf8 = 1;
		else {
			mp->bad = p;
			mp->badlen = namelen;
			return PARAM_UNSUPPORTED;
		}
		p += n;
	}
}

int
smtp_addr_is_8bit(const struct mailaddr *a)
{
	const char	*p;

	for (p = a->local; *p != '\0'; p++)
		if ((unsigned char)*p >= 0x80)
			return 1;
	for (p = a->domain; *p != '\0'; p++)
		if ((unsigned char)*p >= 0x80)
			return 1;
	return 0;
}

int
smtp_parse_rcpt_to(const char *args, int flags, struct mailaddr *a,
    int *postmaster)
{
	const char	*rest;

	memset(a, 0, sizeof(*a));
	*postmaster = 0;
	while (*args == ' ')
		args++;
	/* RFC 5321 4.5.1: <Postmaster> without a domain is the server's. */
	if (strncasecmp(args, "<postmaster>", 12) == 0 &&
	    (args[12] == '\0' || args[12] == ' ')) {
		*postmaster = 1;
		rest = args + 12;
		while (*rest == ' ')
			rest++;
	} else if (addr_parse_path(args, a, flags, &rest) == -1)
		return -1;
	return *rest == '\0' ? 0 : -2;
}

int
smtp_parse_bdat(const char *args, size_t *size, int *last)
{
	const char	*sp;
	size_t		 n;

	*last = 0;
	n = strcspn(args, " ");
	/* The chunk length past counting is refused: no skip is possible. */
	if (parse_size_word(args, n, size) != 0)
		return -1;
	sp = args + n;
	if (*sp == '\0')
		return 0;
	if (strcasecmp(sp + 1, "LAST") != 0)
		return -1;
	*last = 1;
	return 0;
}

int
smtp_parse_auth(const char *args, struct smtp_auth_args *aa)
{
	const char	*initial;
	size_t		 n;

	aa->mech = SASL_UNKNOWN;
	aa->initial = NULL;
	n = strcspn(args, " ");
	if (n == 0)
		return -1;
	if (args[n] == ' ') {
		initial = args + n + 1;
		if (*initial == '\0' || strchr(initial, ' ') != NULL)
			return -1;
		aa->initial = initial;
	}
	if (word_is(args, n, "PLAIN"))
		aa->mech = SASL_PLAIN;
	else if (word_is(args, n, "LOGIN"))
		aa->mech = SASL_LOGIN;
	return 0;
}
