/*
 * pop3_parse: the POP3 command grammar of RFC 1939 with CAPA (RFC
 * 2449), STLS (RFC 2595) and AUTH with an initial response (RFC 5034).
 * It checks the line length and the arguments (message numbers are
 * nonzero decimals that fit 32 bits) and leaves state and replies to
 * the session.  APOP is recognised so that the session refuses it by
 * name rather than as an unknown command.
 */

#include <sys/types.h>

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "pop3_parse.h"

static const char *const pop3_verbs[P3_NVERBS] = {
	[P3_USER] = "USER", [P3_PASS] = "PASS", [P3_STAT] = "STAT",
	[P3_LIST] = "LIST", [P3_UIDL] = "UIDL", [P3_RETR] = "RETR",
	[P3_TOP] = "TOP", [P3_DELE] = "DELE", [P3_RSET] = "RSET",
	[P3_NOOP] = "NOOP", [P3_QUIT] = "QUIT", [P3_CAPA] = "CAPA",
	[P3_STLS] = "STLS", [P3_AUTH] = "AUTH", [P3_APOP] = "APOP",
};

const char *
pop3_verb_name(enum pop3_verb v)
{
	return v < P3_NVERBS && pop3_verbs[v] != NULL ? pop3_verbs[v] : "?";
}

/* A decimal of 1 to 10 digits that fits 32 bits; zero only if zero_ok. */
static int
pop3_number(const char *s, uint32_t *v, int zero_ok)
{
	uint64_t	 n = 0;
	size_t		 i;

	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 10)
			return -1;
		n = n * 10 + (s[i] - '0');
	}
	if (i == 0 || n > UINT32_MAX || (n == 0 && !zero_ok))
		return -1;
	*v = n;
	return 0;
}

/* Split off the next space-separated argument, NULL at the end. */
static char *
pop3_next(char **p)
{
	char	*a = *p, *sp;

	if (a == NULL || *a == '\0')
		return NULL;
	if ((sp = strchr(a, ' ')) != NULL) {
		*sp = '\0';
		*p = sp + 1;
	} else
		*p = NULL;
	return a;
}

static int
pop3_args(struct pop3_cmd *cmd, char *rest, const char **err)
{
	char	*a, *b;

	switch (cmd->verb) {
	case P3_PASS:
		/* RFC 1939 7: the password may hold spaces; take it all. */
		if (rest == NULL || *rest == '\0') {
			*err = "PASS needs a password";
			return -1;
		}
		cmd->arg = rest;
		return 0;
	case P3_USER:
	case P3_APOP:
		if ((a = pop3_next(&rest)) == NULL) {
			*err = "Missing argument";
			return -1;
		}
		cmd->arg = a;
		if (cmd->verb == P3_APOP)
			return 0;
		break;
	case P3_LIST:
	case P3_UIDL:
		if ((a = pop3_next(&rest)) == NULL)
			return 0;
		if (pop3_number(a, &cmd->msg, 0) == -1) {
			*err = "Invalid message number";
			return -1;
		}
		cmd->has_msg = 1;
		break;
	case P3_RETR:
	case P3_DELE:
	case P3_TOP:
		if ((a = pop3_next(&rest)) == NULL ||
		    pop3_number(a, &cmd->msg, 0) == -1) {
			*err = "Invalid message number";
			return -1;
		}
		cmd->has_msg = 1;
		if (cmd->verb != P3_TOP)
			break;
		if ((b = pop3_next(&rest)) == NULL ||
		    pop3_number(b, &cmd->lines, 1) == -1) {
			*err = "Invalid number of lines";
			return -1;
		}
		break;
	case P3_AUTH:
		/* AUTH alone lists the mechanisms (RFC 1734 style). */
		if ((a = pop3_next(&rest)) == NULL)
			return 0;
		cmd->arg = a;
		if ((b = pop3_next(&rest)) != NULL)
			cmd->initial = b;
		break;
	default:
		break;
	}
	if (rest != NULL && *rest != '\0') {
		*err = "Too many arguments";
		return -1;
	}
	return 0;
}

int
pop3_parse(char *line, size_t len, struct pop3_cmd *cmd, const char **err)
{
	char	*rest, *verb;
	int	 v;

	memset(cmd, 0, sizeof(*cmd));
	cmd->verb = P3_UNKNOWN;
	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len + 2 > POP3_LINE_MAX) {
		*err = "Line too long";
		return -1;
	}
	if (memchr(line, '\0', len) != NULL || memchr(line, '\r', len) ||
	    memchr(line, '\n', len) != NULL) {
		*err = "NUL, CR or LF inside the line";
		return -1;
	}
	line[len] = '\0';
	/* Trailing blanks are a common client sloppiness, not an error. */
	while (len > 0 && line[len - 1] == ' ')
		line[--len] = '\0';
	if (len == 0) {
		cmd->verb = P3_EMPTY;
		*err = "Empty command";
		return -1;
	}
	rest = line;
	verb = pop3_next(&rest);
	for (v = 0; v < P3_NVERBS; v++)
		if (pop3_verbs[v] != NULL && strcasecmp(verb,
		    pop3_verbs[v]) == 0)
			break;
	if (v == P3_NVERBS) {
		*err = "Unknown command";
		return -1;
	}
	cmd->verb = v;
	if (v != P3_PASS && rest != NULL) {
		for (verb = rest; *verb != '\0'; verb++)
			if (*verb == ' ' && (verb == rest || verb[-1] == ' ')) {
				*err = "Extra spaces";
				return -1;
			}
		for (verb = rest; *verb != '\0'; verb += strcspn(verb, " "),
		    verb += *verb == ' ')
			if (strcspn(verb, " ") > POP3_ARG_MAX &&
			    !(v == P3_AUTH && verb != rest)) {
				*err = "Argument too long";
				return -1;
			}
	}
	return pop3_args(cmd, rest, err);
}
