/*
 * SMTP and LMTP replies as a client reads them (RFC 5321 4.2): lines of
 * "NNN-text" that continue and a last "NNN text" or "NNN", all with the
 * same code.  Shared by the LMTP client (queue_lmtp.c) and the outbound
 * SMTP client (mta_session.c).
 */

#ifndef TSAMBA_SMTP_REPLY_H
#define TSAMBA_SMTP_REPLY_H

#include <stddef.h>

#define SMTP_REPLY_MAX		512	/* one printable line */

struct smtp_reply {
	int		 code;
	size_t		 nlines;		/* read so far */
	int		 complete;		/* the last line was read */
	size_t		 len;
	char		 text[SMTP_REPLY_MAX];	/* "NNN text text..." */
};

void		 smtp_reply_reset(struct smtp_reply *);
/*
 * Add one line.  1: the reply is complete (code and text stay set until
 * the next line starts a new reply); 0: more lines follow; -1: malformed.
 */
int		 smtp_reply_line(struct smtp_reply *, const char *, size_t);
/*
 * The text of the line just added if it is not the first of its reply
 * (in an EHLO/LHLO answer: an extension keyword), else NULL.
 */
const char	*smtp_reply_ext(const struct smtp_reply *, const char *,
		    size_t);
int		 smtp_reply_is_2xx(int code);

#endif
