/*
 * tsamba-lmtpd: the pure parsers of client input (the command verb,
 * MAIL FROM and RCPT TO paths, the MAIL parameters).  They keep no
 * state and do no I/O, so that lmtp_session.c decides what to answer
 * and regress/fuzz/fuzz_lmtp_cmd.c can drive them alone.
 */

#ifndef TSAMBA_LMTP_PARSE_H
#define TSAMBA_LMTP_PARSE_H

#include <stddef.h>

struct mailaddr;

#define LMTP_PARAM_MAX		128	/* one MAIL parameter, with its NUL */

enum lmtp_verb {
	LMTP_CMD_UNKNOWN = 0,	/* also the empty line */
	LMTP_CMD_LHLO,
	LMTP_CMD_MAIL,
	LMTP_CMD_RCPT,
	LMTP_CMD_DATA,
	LMTP_CMD_RSET,
	LMTP_CMD_NOOP,
	LMTP_CMD_QUIT,
	LMTP_CMD_VRFY,
	LMTP_CMD_HELP,
	LMTP_CMD_HELO,
	LMTP_CMD_EHLO,
	LMTP_CMD_NVERBS
};

struct lmtp_cmd {
	enum lmtp_verb	 verb;
	char		*args;		/* inside the line, "" if none */
};

/* What a MAIL FROM or RCPT TO argument was. */
enum lmtp_path_result {
	LMTP_PATH_OK = 0,
	LMTP_PATH_SYNTAX,	/* no "FROM:" or "TO:" */
	LMTP_PATH_BAD,		/* malformed path (or null RCPT) */
	LMTP_PATH_PARAMS,	/* RCPT TO with parameters after it */
};

/* What MAIL FROM parameters said, and the first one refused. */
enum lmtp_param_result {
	LMTP_PARAM_OK = 0,
	LMTP_PARAM_TOO_LONG,	/* a parameter of LMTP_PARAM_MAX or more */
	LMTP_PARAM_BAD_SIZE,	/* SIZE= not a number strtonum(3) takes */
	LMTP_PARAM_TOO_BIG,	/* SIZE= over the limit */
	LMTP_PARAM_UNSUPPORTED,	/* anything but SIZE=, BODY=, SMTPUTF8 */
};

struct lmtp_mail_params {
	int		 has_size;
	long long	 size;		/* the last SIZE=, when has_size */
	int		 body8bit;	/* the last BODY= was 8BITMIME */
	int		 smtputf8;
};

/* A command line is garbage with a NUL inside: 0 or -1. */
int		 lmtp_check_line(const char *line, size_t len);
/* Split "VERB args" in place (spaces after the verb skipped). */
enum lmtp_verb	 lmtp_parse_command(char *line, struct lmtp_cmd *);
/* MAIL args: "FROM:" path; *rest are the parameters. */
enum lmtp_path_result lmtp_parse_mail_from(const char *args,
		    struct mailaddr *, const char **rest);
/* MAIL FROM parameters, in order; the first refusal ends the parse. */
enum lmtp_param_result lmtp_parse_mail_params(const char *rest,
		    size_t max_size, struct lmtp_mail_params *);
/* RCPT args: "TO:" and a path that is not null, with nothing after. */
enum lmtp_path_result lmtp_parse_rcpt_to(const char *args,
		    struct mailaddr *);

#endif
