/*
 * Reading SMTP and LMTP replies: the codes and the joining of
 * multi-line replies into one printable line for the log and for
 * bounces, for both of the queue's clients.
 */

#include <sys/types.h>

#include <ctype.h>
#include <string.h>

#include "smtp_reply.h"

void
smtp_reply_reset(struct smtp_reply *r)
{
	r->code = 0;
	r->nlines = 0;
	r->complete = 0;
	r->len = 0;
	r->text[0] = '\0';
}

static int
reply_code(const char *line, size_t len)
{
	int	 code;

	if (len < 3 || !isdigit((unsigned char)line[0]) ||
	    !isdigit((unsigned char)line[1]) ||
	    !isdigit((unsigned char)line[2]) ||
	    (len > 3 && line[3] != ' ' && line[3] != '-'))
		return -1;
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + line[2] - '0';
	/* RFC 5321 4.2: 2yz to 5yz; a 1yz is never sent by servers. */
	if (code < 200 || code > 599)
		return -1;
	return code;
}

int
smtp_reply_line(struct smtp_reply *r, const char *line, size_t len)
{
	size_t	 i;
	int	 code;

	if (r->complete)
		smtp_reply_reset(r);
	if ((code = reply_code(line, len)) == -1)
		return -1;
	if (r->nlines == 0) {
		r->code = code;
		memcpy(r->text, line, 3);
		r->len = 3;
	} else if (code != r->code)
		return -1;
	r->nlines++;
	/* Text from the lines joined by spaces, cut to fit, printable. */
	if (len > 4 && r->len + 2 < sizeof(r->text))
		r->text[r->len++] = ' ';
	for (i = 4; i < len && r->len + 1 < sizeof(r->text); i++)
		r->text[r->len++] =
		    isprint((unsigned char)line[i]) ? line[i] : '?';
	r->text[r->len] = '\0';
	r->complete = (len == 3 || line[3] == ' ');
	return r->complete;
}

const char *
smtp_reply_ext(const struct smtp_reply *r, const char *line, size_t len)
{
	if (r->nlines < 2 || len <= 4)
		return NULL;
	return line + 4;
}

int
smtp_reply_is_2xx(int code)
{
	return code >= 200 && code < 300;
}
