/*
 * imap_utf7: mailbox names between modified UTF-7 (RFC 3501 5.1.3),
 * which IMAP4rev1 clients speak, and UTF-8 (RFC 9051 5.1, RFC 6855),
 * which IMAP4rev2 and UTF8=ACCEPT clients speak and tsamba stores.
 * Decoding is strict: every name has exactly one encoding, so a name
 * that would decode the same as another (printable ASCII in base64,
 * two adjacent shifts, stray bits, lone surrogates) is refused.
 */

#include <stddef.h>
#include <stdint.h>

#include "base64.h"
#include "imap_parse.h"

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/* One code point as UTF-8; -1 when out does not have room. */
static int
put_utf8(uint32_t c, char *out, size_t outsz, size_t *o)
{
	unsigned char	 b[4];
	size_t		 n, i;

	if (c < 0x80) {
		b[0] = c;
		n = 1;
	} else if (c < 0x800) {
		b[0] = 0xc0 | (c >> 6);
		b[1] = 0x80 | (c & 0x3f);
		n = 2;
	} else if (c < 0x10000) {
		b[0] = 0xe0 | (c >> 12);
		b[1] = 0x80 | ((c >> 6) & 0x3f);
		b[2] = 0x80 | (c & 0x3f);
		n = 3;
	} else {
		b[0] = 0xf0 | (c >> 18);
		b[1] = 0x80 | ((c >> 12) & 0x3f);
		b[2] = 0x80 | ((c >> 6) & 0x3f);
		b[3] = 0x80 | (c & 0x3f);
		n = 4;
	}
	if (outsz - *o <= n)
		return -1;
	for (i = 0; i < n; i++)
		out[(*o)++] = b[i];
	return 0;
}

/*
 * One UTF-8 sequence at s (len bytes left): its code point and length,
 * or -1 for overlong forms, surrogates, values past U+10FFFF and
 * truncated or stray bytes.
 */
static int
get_utf8(const unsigned char *s, size_t len, uint32_t *cp)
{
	uint32_t	 c;
	int		 n, i;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		c = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		c = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		c = s[0] & 0x07;
	} else
		return -1;
	if ((size_t)n > len)
		return -1;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -1;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && c < 0x800) || (n == 4 && c < 0x10000) ||
	    c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return -1;
	*cp = c;
	return n;
}

int
imap_utf8_valid(const char *s, size_t len)
{
	uint32_t	 cp;
	size_t		 i = 0;
	int		 n;

	while (i < len) {
		if ((n = get_utf8((const unsigned char *)s + i, len - i,
		    &cp)) == -1 || cp == 0)
			return 0;
		i += n;
	}
	return 1;
}

/* One shifted run "&...-" of base64 UTF-16 into UTF-8. */
static int
utf7_shifted(const char *s, size_t len, size_t *i, char *out,
    size_t outsz, size_t *o)
{
	uint32_t	 bits = 0, u, hi = 0;
	int		 nbits = 0, v, units = 0;

	for (; *i < len && s[*i] != '-'; (*i)++) {
		if ((v = base64_value((unsigned char)s[*i],
		    BASE64_DIGIT63_IMAP)) == -1)
			return -1;
		bits = (bits << 6) | v;
		nbits += 6;
		if (nbits < 16)
			continue;
		nbits -= 16;
		u = (bits >> nbits) & 0xffff;
		bits &= (1U << nbits) - 1;
		units++;
		if (hi != 0) {
			if (u < 0xdc00 || u > 0xdfff)
				return -1;
			u = 0x10000 + ((hi - 0xd800) << 10) + (u - 0xdc00);
			hi = 0;
		} else if (u >= 0xd800 && u <= 0xdbff) {
			hi = u;
			continue;
		} else if (u >= 0xdc00 && u <= 0xdfff)
			return -1;
		else if (u >= 0x20 && u <= 0x7e)
			return -1;	/* must be written plainly */
		if (u == 0 || put_utf8(u, out, outsz, o) == -1)
			return -1;
	}
	/* The run ends in "-", whole units, at most 5 zero bits left. */
	if (*i == len || units == 0 || hi != 0 || nbits >= 6 || bits != 0)
		return -1;
	(*i)++;
	return 0;
}

int
imap_utf7_decode(const char *s, size_t len, char *out, size_t outsz)
{
	size_t	 i = 0, o = 0;
	int	 shifted_last = 0;

	if (outsz == 0)
		return -1;
	while (i < len) {
		unsigned char c = s[i];

		if (c < 0x20 || c > 0x7e)
			return -1;
		if (c != '&') {
			if (outsz - o <= 1)
				return -1;
			out[o++] = c;
			i++;
			shifted_last = 0;
			continue;
		}
		if (i + 1 < len && s[i + 1] == '-') {
			if (outsz - o <= 1)
				return -1;
			out[o++] = '&';
			i += 2;
			shifted_last = 0;
			continue;
		}
		/* "&AAA-&BBB-" should have been one run. */
		if (shifted_last)
			return -1;
		i++;
		if (utf7_shifted(s, len, &i, out, outsz, &o) == -1)
			return -1;
		shifted_last = 1;
	}
	out[o] = '\0';
	return 0;
}

static int
put_char(char c, char *out, size_t outsz, size_t *o)
{
	if (outsz - *o <= 1)
		return -1;
	out[(*o)++] = c;
	return 0;
}

int
imap_utf7_encode(const char *s, size_t len, char *out, size_t outsz)
{
	uint32_t	 cp, bits = 0, units[2];
	size_t		 i = 0, o = 0;
	int		 n, nbits = 0, shifted = 0, k, nu;

	if (outsz == 0)
		return -1;
	while (i < len) {
		if ((n = get_utf8((const unsigned char *)s + i, len - i,
		    &cp)) == -1 || cp == 0)
			return -1;
		i += n;
		if (cp >= 0x20 && cp <= 0x7e) {
			if (shifted) {
				if (nbits > 0 && put_char(b64chars[(bits <<
				    (6 - nbits)) & 0x3f], out, outsz, &o) == -1)
					return -1;
				if (put_char('-', out, outsz, &o) == -1)
					return -1;
				shifted = 0;
				nbits = 0;
				bits = 0;
			}
			if (put_char(cp, out, outsz, &o) == -1 ||
			    (cp == '&' && put_char('-', out, outsz, &o) == -1))
				return -1;
			continue;
		}
		if (!shifted) {
			if (put_char('&', out, outsz, &o) == -1)
				return -1;
			shifted = 1;
		}
		if (cp >= 0x10000) {
			units[0] = 0xd800 + ((cp - 0x10000) >> 10);
			units[1] = 0xdc00 + ((cp - 0x10000) & 0x3ff);
			nu = 2;
		} else {
			units[0] = cp;
			nu = 1;
		}
		for (k = 0; k < nu; k++) {
			bits = (bits << 16) | units[k];
			nbits += 16;
			while (nbits >= 6) {
				nbits -= 6;
				if (put_char(b64chars[(bits >> nbits) & 0x3f],
				    out, outsz, &o) == -1)
					return -1;
			}
			bits &= (1U << nbits) - 1;
		}
	}
	if (shifted) {
		if (nbits > 0 && put_char(b64chars[(bits << (6 - nbits)) &
		    0x3f], out, outsz, &o) == -1)
			return -1;
		if (put_char('-', out, outsz, &o) == -1)
			return -1;
	}
	out[o] = '\0';
	return 0;
}
