/*
 * tsamba-smtpd: the pure parsers of client input (command lines, ESMTP
 * parameters, BDAT, AUTH and the SASL responses).  They keep no state
 * and do no I/O, so that smtp_session.c and smtp_auth.c decide what to
 * answer and regress/fuzz/fuzz_smtp_cmd.c can drive them alone.
 */

#ifndef TSAMBA_SMTP_PARSE_H
#define TSAMBA_SMTP_PARSE_H

#include <stddef.h>

#include "sasl.h"

struct mailaddr;

#define SMTP_HELO_MAX		255	/* a domain or address literal */

enum smtp_verb {
	CMD_EMPTY = 0,		/* nothing but blanks */
	CMD_UNKNOWN,
	CMD_HELO,
	CMD_EHLO,
	CMD_STARTTLS,
	CMD_MAIL,
	CMD_RCPT,
	CMD_DATA,
	CMD_BDAT,
	CMD_RSET,
	CMD_NOOP,
	CMD_QUIT,
	CMD_VRFY,
	CMD_EXPN,
	CMD_HELP,
	CMD_AUTH,
	CMD_NVERBS
};

struct smtp_cmd {
	enum smtp_verb	 verb;
	char		*args;		/* inside the line, "" if none */
};

enum smtp_body {
	BODY_7BIT = 0,
	BODY_8BITMIME,
	BODY_BINARYMIME,
};

/* What MAIL FROM parameters said, and the first one refused. */
enum smtp_param_result {
	PARAM_OK = 0,
	PARAM_BAD_SIZE,		/* SIZE= not 1*20DIGIT */
	PARAM_TOO_BIG,		/* SIZE= over the limit */
	PARAM_BINARYMIME,	/* BODY=BINARYMIME, not offered */
	PARAM_BAD_BODY,		/* BODY= neither 7BIT nor 8BITMIME */
	PARAM_UNSUPPORTED,	/* see bad, badlen */
};

struct smtp_mail_params {
	int		 has_size;
	size_t		 size;		/* SIZE=, when has_size */
	enum smtp_body	 body;
	int		 smtputf8;
	const char	*bad;		/* name of the refused parameter */
	size_t		 badlen;
};

enum sasl_mech {
	SASL_UNKNOWN = 0,
	SASL_PLAIN,
	SASL_LOGIN,
};

struct smtp_auth_args {
	enum sasl_mech	 mech;
	const char	*initial;	/* initial response or NULL */
};


/* A command line is garbage with a NUL, or a CR when it ended bare. */
int		 smtp_check_line(const char *line, size_t len, int bare);
/* Split "VERB args" in place (trailing blanks cut); returns the verb. */
enum smtp_verb	 smtp_parse_command(char *line, struct smtp_cmd *);
/* HELO/EHLO argument: 0 if it is one word of printable ASCII. */
int		 smtp_parse_helo(const char *);
/* 1*20DIGIT: 0, -1 on bad syntax, 1 over SIZE_MAX (*sz = SIZE_MAX). */
int		 smtp_parse_size(const char *, size_t *);
/* args without the keyword ("FROM:", "TO:"), NULL if it is not there. */
const char	*smtp_skip_keyword(const char *args, const char *keyword);
/* MAIL FROM path: 0, or -1 if malformed; *rest are the parameters. */
int		 smtp_parse_mail_from(const char *, struct mailaddr *,
		    const char **rest);
/* MAIL FROM parameters, in order; the first refusal ends the parse. */
enum smtp_param_result smtp_parse_mail_params(const char *rest,
		    size_t max_size, struct smtp_mail_params *);
/* The address needs SMTPUTF8. */
int		 smtp_addr_is_8bit(const struct mailaddr *);
/*
 * RCPT TO path with the addr_parse_path() flags: 0, -1 if malformed,
 * -2 if parameters follow.  *postmaster is set for a bare
 * <Postmaster>, which has no domain and leaves *a empty.
 */
int		 smtp_parse_rcpt_to(const char *, int flags, struct mailaddr *,
		    int *postmaster);
/* BDAT chunk-size [LAST]: 0 or -1. */
int		 smtp_parse_bdat(const char *args, size_t *size, int *last);
/* AUTH mechanism [initial-response]: 0 or -1 on bad syntax. */
int		 smtp_parse_auth(const char *args, struct smtp_auth_args *);

#endif
