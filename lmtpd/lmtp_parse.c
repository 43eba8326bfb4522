/*
 * The parsers of what an LMTP client sends (RFC 2033, with the command
 * syntax of RFC 5321 4.1.1): the verb, MAIL FROM and RCPT TO paths and
 * the MAIL parameters we advertise (RFC 1870 SIZE, RFC 6152 BODY,
 * RFC 6531 SMTPUTF8).  No session state and no I/O here: the session
 * chooses the replies, and the fuzz target can reach every function.
 */

#include <sys/types.h>

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "lmtp_parse.h"

static const char *const lmtp_verbs[LMTP_CMD_NVERBS] = {
	[LMTP_CMD_LHLO] = "LHLO",
	[LMTP_CMD_MAIL] = "MAIL",
	[LMTP_CMD_RCPT] = "RCPT",
	[LMTP_CMD_DATA] = "DATA",
	[LMTP_CMD_RSET] = "RSET",
	[LMTP_CMD_NOOP] = "NOOP",
	[LMTP_CMD_QUIT] = "QUIT",
	[LMTP_CMD_VRFY] = "VRFY",
	[LMTP_CMD_HELP] = "HELP",
	[LMTP_CMD_HELO] = "HELO",
	[LMTP_CMD_EHLO] = "EHLO",
};

static const char	*skip_keyword(const char *, const char *);
static enum lmtp_param_result mail_param(char *, size_t,
			    struct lmtp_mail_params *);

int
lmtp_check_line(const char *line, size_t len)
{
	return memchr(line, '\0', len) != NULL ? -1 : 0;
}

/*
 * The verb ends at the first space; the line keeps it (the session
 * compares n bytes), only args point past it and its spaces.
 */
enum lmtp_verb
lmtp_parse_command(char *line, struct lmtp_cmd *cmd)
{
	size_t	 n;
	int	 v;

	n = strcspn(line, " ");
	cmd->args = line + n;
	while (*cmd->args == ' ')
		cmd->args++;
	cmd->verb = LMTP_CMD_UNKNOWN;
	for (v = 0; v < LMTP_CMD_NVERBS; v++) {
		if (lmtp_verbs[v] != NULL && n == strlen(lmtp_verbs[v]) &&
		    strncasecmp(line, lmtp_verbs[v], n) == 0) {
			cmd->verb = v;
			break;
		}
	}
	return cmd->verb;
}

/* args past keyword and the spaces after it, NULL if it is not there. */
static const char *
skip_keyword(const char *args, const char *keyword)
{
	size_t	 n = strlen(keyword);

	if (strncasecmp(args, keyword, n) != 0)
		return NULL;
	args += n;
	while (*args == ' ')
		args++;
	return args;
}

enum lmtp_path_result
lmtp_parse_mail_from(const char *args, struct mailaddr *a,
    const char **rest)
{
	if ((args = skip_keyword(args, "FROM:")) == NULL)
		return LMTP_PATH_SYNTAX;
	if (addr_parse_path(args, a, ADDR_ALLOW_NULL | ADDR_ALLOW_UTF8,
	    rest) == -1)
		return LMTP_PATH_BAD;
	return LMTP_PATH_OK;
}

/*
 * Parameters are separated by spaces; a run of them counts as one.  p
 * starts at a parameter: addr_parse_path() skipped the spaces before.
 */
enum lmtp_param_result
lmtp_parse_mail_params(const char *p, size_t max_size,
    struct lmtp_mail_params *mp)
{
	char			 param[LMTP_PARAM_MAX];
	enum lmtp_param_result	 r;
	size_t			 n;

	memset(mp, 0, sizeof(*mp));
	while (*p != '\0') {
		n = strcspn(p, " ");
		if (n >= sizeof(param))
			return LMTP_PARAM_TOO_LONG;
		memcpy(param, p, n);
		param[n] = '\0';
		p += n;
		while (*p == ' ')
			p++;
		if ((r = mail_param(param, max_size, mp)) != LMTP_PARAM_OK)
			return r;
	}
	return LMTP_PARAM_OK;
}

/* One "NAME" or "NAME=value", split in place. */
static enum lmtp_param_result
mail_param(char *param, size_t max_size, struct lmtp_mail_params *mp)
{
	const char	*errstr;
	char		*v;
	long long	 size;

	if ((v = strchr(param, '=')) != NULL)
		*v++ = '\0';
	if (strcasecmp(param, "SMTPUTF8") == 0 && v == NULL) {
		mp->smtputf8 = 1;
		return LMTP_PARAM_OK;
	}
	if (strcasecmp(param, "BODY") == 0 && v != NULL) {
		if (strcasecmp(v, "7BIT") == 0) {
			mp->body8bit = 0;
			return LMTP_PARAM_OK;
		}
		if (strcasecmp(v, "8BITMIME") == 0) {
			mp->body8bit = 1;
			return LMTP_PARAM_OK;
		}
		return LMTP_PARAM_UNSUPPORTED;
	}
	if (strcasecmp(param, "SIZE") == 0 && v != NULL) {
		size = strtonum(v, 0, LLONG_MAX, &errstr);
		if (errstr != NULL)
			return LMTP_PARAM_BAD_SIZE;
		if ((unsigned long long)size > max_size)
			return LMTP_PARAM_TOO_BIG;
		mp->has_size = 1;
		mp->size = size;
		return LMTP_PARAM_OK;
	}
	return LMTP_PARAM_UNSUPPORTED;
}

enum lmtp_path_result
lmtp_parse_rcpt_to(const char *args, struct mailaddr *a)
{
	const char	*rest;

	if ((args = skip_keyword(args, "TO:")) == NULL)
		return LMTP_PATH_SYNTAX;
	if (addr_parse_path(args, a, ADDR_ALLOW_UTF8, &rest) == -1 ||
	    addr_is_null(a))
		return LMTP_PATH_BAD;
	if (*rest != '\0')
		return LMTP_PATH_PARAMS;
	return LMTP_PATH_OK;
}
