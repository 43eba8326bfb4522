/*
 * A message body as the DATA command sends it (RFC 5321 4.5.2): CRLF
 * line ends and leading dots doubled.  Shared by the LMTP client
 * (queue_lmtp.c) and the outbound SMTP client (mta_session.c).
 */

#ifndef TSAMBA_SMTP_BODY_H
#define TSAMBA_SMTP_BODY_H

#include <stddef.h>

struct body_encoder {
	int	 bol;		/* at the start of a line */
	int	 cr;		/* the last byte was CR */
};

void	 body_encoder_init(struct body_encoder *);
/* Encode n bytes into out, which holds at least 2 * n; bytes out. */
size_t	 body_encode(struct body_encoder *, const unsigned char *, size_t,
	    unsigned char *);
/* Whether a CRLF must end the last line before the final dot. */
int	 body_needs_eol(const struct body_encoder *);

#endif
