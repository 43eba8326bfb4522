/*
 * FETCH BINARY[section] and BINARY.SIZE[section] (RFC 3516): a part's
 * contents with its Content-Transfer-Encoding undone.  base64 and
 * quoted-printable are decoded (mime_decode.c); 7bit, 8bit, binary and
 * no field at all are the identity.  A multipart or message/rfc822
 * part, and BINARY[] (the whole message), go out as they are: MIME
 * allows composite types no other encoding (RFC 2045 6.4), and the
 * parts inside keep theirs.  Any other encoding is UNKNOWN-CTE.
 *
 * Line ends: a message lmtpd delivered is kept with LF line ends and
 * its text goes out with CRLF, as BODY[] has it.  A message whose
 * first line ends in CRLF was stored as the client sent it (APPEND of
 * a literal8, imap_cmd_append.c): its identity parts go out byte for
 * byte, so that binary data with NUL and bare LF survive the round
 * trip.  NUL is kept in either case (BODY[] shows it as 0x80); the
 * caller sends such contents as a literal8.
 */

#include <sys/types.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "mime.h"
#include "imapd.h"

enum cte { CTE_IDENTITY, CTE_BASE64, CTE_QP, CTE_UNKNOWN };

static enum cte
part_cte(const struct mime_msg *mm, const struct mime_part *p)
{
	static const struct {
		const char	*name;
		enum cte	 cte;
	} known[] = {
		{ "7bit", CTE_IDENTITY }, { "8bit", CTE_IDENTITY },
		{ "binary", CTE_IDENTITY }, { "base64", CTE_BASE64 },
		{ "quoted-printable", CTE_QP },
	};
	char		*v = NULL, *s;
	size_t		 i, n;
	enum cte	 cte = CTE_UNKNOWN;

	if (!p->is_mime || mime_header_get(mm, &p->header,
	    "Content-Transfer-Encoding", &v, NULL) == -1)
		return CTE_IDENTITY;
	/* The token, without blanks or a comment after it. */
	for (s = v; isspace((unsigned char)*s); s++)
		;
	n = strcspn(s, " \t\r\n(;");
	if (n == 0)
		cte = CTE_IDENTITY;
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strlen(known[i].name) == n &&
		    strncasecmp(s, known[i].name, n) == 0)
			cte = known[i].cte;
	free(v);
	return cte;
}

/* Was the message stored with CRLF line ends, as the client sent it? */
static int
stored_as_sent(const struct mime_msg *mm)
{
	const char	*lf;

	lf = memchr(mm->buf, '\n', mm->len);
	return lf != NULL && lf > mm->buf && lf[-1] == '\r';
}

/* s as IMAP sees it: bare LF as CRLF unless stored as sent, NUL kept. */
static char *
binary_text(const struct mime_msg *mm, const char *s, size_t n,
    size_t *outlen)
{
	char	*out;
	size_t	 i, o = 0;

	if ((out = malloc(2 * n + 1)) == NULL)
		fatal("%s", __func__);
	if (stored_as_sent(mm)) {
		memcpy(out, s, n);
		*outlen = n;
		return out;
	}
	for (i = 0; i < n; i++) {
		if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
			out[o++] = '\r';
		out[o++] = s[i];
	}
	*outlen = o;
	return out;
}

/* Can BINARY decode the section?  No such part counts as yes. */
int
imap_binary_known(struct mime_msg *mm, const uint32_t *part, int npart)
{
	struct mime_part	*p;

	if (npart == 0 || (p = mime_section_part(mm, part, npart)) == NULL ||
	    p->is_multipart || p->is_message)
		return 1;
	return part_cte(mm, p) != CTE_UNKNOWN;
}

/*
 * The decoded contents of a section: 0, 1 for no such part (nothing
 * in *out), -1 for an encoding we cannot undo.  *out is malloc'd.
 */
int
imap_binary_section(struct mime_msg *mm, const uint32_t *part, int npart,
    char **out, size_t *outlen)
{
	struct mime_part	*p;
	struct mime_range	 r;
	enum cte		 cte = CTE_IDENTITY;
	char			*text, *dec;
	size_t			 tlen;

	*out = NULL;
	*outlen = 0;
	if (!imap_binary_known(mm, part, npart))
		return -1;
	if ((p = mime_section_part(mm, part, npart)) == NULL ||
	    mime_section_range(mm, part, npart, MT_NONE, &r) == -1)
		return 1;
	if (npart > 0 && !p->is_multipart && !p->is_message)
		cte = part_cte(mm, p);
	if (cte == CTE_BASE64) {
		if ((dec = malloc(r.len + 1)) == NULL)
			fatal("%s", __func__);
		(void)mime_decode_base64(mm->buf + r.off, r.len, dec, outlen);
		*out = dec;
		return 0;
	}
	text = binary_text(mm, mm->buf + r.off, r.len, &tlen);
	if (cte == CTE_IDENTITY) {
		*out = text;
		*outlen = tlen;
		return 0;
	}
	if ((dec = malloc(tlen + 1)) == NULL)
		fatal("%s", __func__);
	(void)mime_decode_qp(text, tlen, dec, outlen, 0);
	free(text);
	*out = dec;
	return 0;
}
