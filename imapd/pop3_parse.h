/*
 * pop3_parse.h: the POP3 command parser (pop3_parse.c) for the
 * session: one line in, the command and its checked arguments out.
 */

#ifndef TSAMBA_POP3_PARSE_H
#define TSAMBA_POP3_PARSE_H

#include <stddef.h>
#include <stdint.h>

#define POP3_LINE_MAX	255	/* RFC 2449 4: with the CRLF */
#define POP3_ARG_MAX	40	/* RFC 2449 4: one argument */
#define POP3_AUTH_MAX	POP3_LINE_MAX

enum pop3_verb {
	P3_EMPTY, P3_UNKNOWN, P3_USER, P3_PASS, P3_STAT, P3_LIST, P3_UIDL,
	P3_RETR, P3_TOP, P3_DELE, P3_RSET, P3_NOOP, P3_QUIT, P3_CAPA,
	P3_STLS, P3_AUTH, P3_APOP,
	P3_NVERBS
};

struct pop3_cmd {
	enum pop3_verb	 verb;
	const char	*arg;		/* USER name, PASS password, mech */
	const char	*initial;	/* AUTH initial response, or NULL */
	int		 has_msg;	/* LIST and UIDL take it or not */
	uint32_t	 msg;
	uint32_t	 lines;		/* TOP */
};

/*
 * Parse one line (CRLF or LF stripped or not) in place.  0, or -1 with
 * *err a reason for "-ERR" (cmd->verb says which command it was for).
 */
int		 pop3_parse(char *, size_t, struct pop3_cmd *, const char **);
const char	*pop3_verb_name(enum pop3_verb);

#endif
