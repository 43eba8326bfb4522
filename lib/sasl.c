/*
 * SASL pieces every server that takes passwords shares (the smtp
 * engine's AUTH, the imap login's AUTHENTICATE and AUTH): strict base64
 * (RFC 4648) and the PLAIN message (RFC 4616).
 */

#include <stddef.h>
#include <string.h>

#include "base64.h"
#include "sasl.h"

/*
 * RFC 4648 4: groups of four, padding only at the end.  "=" alone is
 * the empty initial response of RFC 4954 4.
 */
int
sasl_base64_decode(const char *in, char *out, size_t outsz, size_t *outlen)
{
	size_t	 len, i, n = 0;
	int	 v[4], k, pad;

	*outlen = 0;
	if (outsz == 0)
		return -2;
	if (strcmp(in, "=") == 0) {
		out[0] = '\0';
		return 0;
	}
	len = strlen(in);
	if (len % 4 != 0)
		return -1;
	if (len / 4 * 3 >= outsz)
		return -2;
	for (i = 0; i < len; i += 4) {
		pad = 0;
		for (k = 0; k < 4; k++) {
			if (in[i + k] == '=' && i + 4 == len && k >= 2) {
				v[k] = 0;
				pad++;
				continue;
			}
			/* Data after padding inside the last group. */
			if (pad > 0 ||
			    (v[k] = base64_value((unsigned char)in[i + k],
			    BASE64_DIGIT63)) == -1)
				return -1;
		}
		out[n++] = (v[0] << 2) | (v[1] >> 4);
		if (pad < 2)
			out[n++] = ((v[1] & 0x0f) << 4) | (v[2] >> 2);
		if (pad < 1)
			out[n++] = ((v[2] & 0x03) << 6) | v[3];
	}
	out[n] = '\0';
	*outlen = n;
	return 0;
}

/* RFC 4616: [authzid] NUL authcid NUL passwd, no NUL in passwd. */
int
sasl_plain_split(const char *buf, size_t len, struct sasl_plain *sp)
{
	const char	*p;

	sp->authzid = buf;
	if ((p = memchr(buf, '\0', len)) == NULL)
		return -1;
	sp->authcid = p + 1;
	if ((p = memchr(sp->authcid, '\0', len - (sp->authcid - buf))) ==
	    NULL)
		return -1;
	sp->pass = p + 1;
	sp->passlen = len - (sp->pass - buf);
	if (memchr(sp->pass, '\0', sp->passlen) != NULL)
		return -1;
	return 0;
}
