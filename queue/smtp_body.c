/*
 * DATA encoding for the two clients of the queue: LF line ends become
 * CRLF (the spool may hold either), and a dot at the start of a line is
 * doubled so that the body cannot end the transaction early.
 */

#include "smtp_body.h"

void
body_encoder_init(struct body_encoder *e)
{
	e->bol = 1;
	e->cr = 0;
}

size_t
body_encode(struct body_encoder *e, const unsigned char *in, size_t n,
    unsigned char *out)
{
	size_t	 i, o = 0;

	for (i = 0; i < n; i++) {
		if (e->bol && in[i] == '.')
			out[o++] = '.';
		if (in[i] == '\n' && !e->cr)
			out[o++] = '\r';
		out[o++] = in[i];
		e->cr = (in[i] == '\r');
		e->bol = (in[i] == '\n');
	}
	return o;
}

int
body_needs_eol(const struct body_encoder *e)
{
	return !e->bol;
}
