/*
 * mime_decode: the decoders SEARCH needs to match what a user reads
 * rather than what is stored: quoted-printable (RFC 2045 6.7) and
 * base64 (RFC 2045 6.8) bodies, RFC 2047 encoded-words in headers,
 * charsets to UTF-8 through iconv(3), and a case-insensitive UTF-8
 * substring test using simple case folding.
 */

#include <sys/types.h>

#include <errno.h>
#include <iconv.h>
#include <locale.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wctype.h>

#include "base64.h"
#include "mime.h"

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * Quoted-printable into out (room for n bytes: never more than the
 * input).  With header set, the RFC 2047 "Q" form: "_" is a space.
 * A "=" not followed by two hex digits or a line end is kept, as
 * RFC 2045 6.7 (1) suggests for robustness.
 */
int
mime_decode_qp(const char *s, size_t n, char *out, size_t *outlen,
    int header)
{
	size_t	 i, o = 0, j, ws;
	int	 h, l;

	for (i = 0; i < n; i++) {
		if (s[i] == '=') {
			if (i + 2 < n && (h = hexval((unsigned char)s[i +
			    1])) != -1 && (l = hexval((unsigned char)s[i +
			    2])) != -1) {
				out[o++] = h << 4 | l;
				i += 2;
				continue;
			}
			/* A soft line break, blanks before it allowed. */
			for (j = i + 1; j < n && (s[j] == ' ' || s[j] == '\t');
			    j++)
				;
			if (j < n && s[j] == '\r' && j + 1 < n &&
			    s[j + 1] == '\n') {
				i = j + 1;
				continue;
			}
			if (j < n && s[j] == '\n') {
				i = j;
				continue;
			}
			if (j == n && !header) {
				i = j;
				continue;
			}
		}
		if (header && s[i] == '_') {
			out[o++] = ' ';
			continue;
		}
		/* Blanks at the end of a line were added in transport. */
		if (!header && (s[i] == ' ' || s[i] == '\t')) {
			for (ws = i; ws < n && (s[ws] == ' ' || s[ws] == '\t');
			    ws++)
				;
			if (ws == n || s[ws] == '\n' || (s[ws] == '\r' &&
			    ws + 1 < n && s[ws + 1] == '\n')) {
				i = ws - 1;
				continue;
			}
		}
		out[o++] = s[i];
	}
	*outlen = o;
	return 0;
}

/*
 * Base64 into out (room for n bytes suffices).  Line ends and other
 * characters outside the alphabet are skipped (RFC 2045 6.8); decoding
 * stops at the first "=".  -1 when a quantum is left with one digit.
 */
int
mime_decode_base64(const char *s, size_t n, char *out, size_t *outlen)
{
	uint32_t	 acc = 0;
	size_t		 i, o = 0;
	int		 bits = 0, v, digits = 0;

	for (i = 0; i < n && s[i] != '='; i++) {
		v = base64_value((unsigned char)s[i], BASE64_DIGIT63);
		if (v == -1)
			continue;
		acc = acc << 6 | v;
		bits += 6;
		digits++;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (acc >> bits) & 0xff;
		}
	}
	*outlen = o;
	return digits % 4 == 1 ? -1 : 0;
}

/*
 * iconv(3) loads a module per charset from /usr/lib at first use, which
 * a process chrooted into a Maildir cannot do.  Opening the charsets
 * mail commonly uses before the chroot, and never closing them, keeps
 * their modules loaded for the conversions done afterwards.  The parent
 * does it once, before it forks any mail process: the modules' pages
 * (relocated data too) are then shared by every session, where loading
 * them in each mail process cost it some 380 KB of its own.
 */
static const char	*preload_charsets[] = {
	"ISO-8859-1", "ISO-8859-2", "ISO-8859-5", "ISO-8859-7",
	"ISO-8859-9", "ISO-8859-15", "WINDOWS-1250", "WINDOWS-1251",
	"WINDOWS-1252", "WINDOWS-1253", "WINDOWS-1254", "KOI8-R",
	"KOI8-U", "ISO-2022-JP", "SHIFT_JIS", "EUC-JP", "GB2312",
	"GBK", "GB18030", "BIG5", "EUC-KR", "UTF-16", "UTF-7"
};
#define PRELOAD_N	(sizeof(preload_charsets) / sizeof(preload_charsets[0]))
static iconv_t		 preloaded[PRELOAD_N];

void
mime_charsets_preload(void)
{
	static int	 done;
	size_t		 i;

	if (done)
		return;
	for (i = 0; i < PRELOAD_N; i++)
		preloaded[i] = iconv_open("UTF-8", preload_charsets[i]);
	(void)mime_utf8_locale();
	done = 1;
}

/*
 * s in charset as UTF-8, a new string.  Bytes the charset cannot
 * read become U+FFFD; an unknown charset gives NULL.
 */
char *
mime_to_utf8(const char *charset, const char *s, size_t n)
{
	iconv_t	 cd;
	char	*out, *in = (char *)s, *op, cs[64];
	size_t	 size = n * 4 + 4, inleft = n, outleft;
	char	*star;

	strlcpy(cs, charset, sizeof(cs));
	/* RFC 2231 5: charset*language. */
	if ((star = strchr(cs, '*')) != NULL)
		*star = '\0';
	if (strcasecmp(cs, "us-ascii") == 0 || strcasecmp(cs, "utf-8") == 0 ||
	    strcasecmp(cs, "utf8") == 0)
		return strndup(s, n);
	if ((cd = iconv_open("UTF-8", cs)) == (iconv_t)-1)
		return NULL;
	if ((out = malloc(size)) == NULL) {
		iconv_close(cd);
		return NULL;
	}
	op = out;
	outleft = size - 1;
	while (inleft > 0) {
		if (iconv(cd, &in, &inleft, &op, &outleft) != (size_t)-1)
			break;
		if (errno == E2BIG || outleft < 3)
			break;
		/* A byte it cannot read: U+FFFD, then go on. */
		memcpy(op, "\xef\xbf\xbd", 3);
		op += 3;
		outleft -= 3;
		in++;
		inleft--;
	}
	*op = '\0';
	iconv_close(cd);
	return out;
}

/* One "=?charset?enc?text?=" at s, decoded; its length in *used. */
static char *
encoded_word(const char *s, size_t n, size_t *used)
{
	const char	*cs, *enc, *text, *end;
	char		 charset[64], *raw, *utf8;
	size_t		 rawlen;
	int		 r;

	if (n < 8 || s[0] != '=' || s[1] != '?')
		return NULL;
	cs = s + 2;
	if ((enc = memchr(cs, '?', n - 2)) == NULL || enc == cs ||
	    (size_t)(enc - cs) >= sizeof(charset) || enc + 3 >= s + n ||
	    enc[2] != '?')
		return NULL;
	text = enc + 3;
	for (end = text; end + 1 < s + n; end++)
		if (end[0] == '?' && end[1] == '=')
			break;
	if (end + 1 >= s + n)
		return NULL;
	memcpy(charset, cs, enc - cs);
	charset[enc - cs] = '\0';
	if ((raw = malloc(end - text + 1)) == NULL)
		return NULL;
	if (enc[1] == 'Q' || enc[1] == 'q')
		r = mime_decode_qp(text, end - text, raw, &rawlen, 1);
	else if (enc[1] == 'B' || enc[1] == 'b')
		r = mime_decode_base64(text, end - text, raw, &rawlen);
	else
		r = -1;
	if (r == -1) {
		free(raw);
		return NULL;
	}
	utf8 = mime_to_utf8(charset, raw, rawlen);
	free(raw);
	if (utf8 != NULL)
		*used = end + 2 - s;
	return utf8;
}

/*
 * A header value with its encoded-words (RFC 2047) decoded to UTF-8,
 * a new string.  Blanks between two encoded-words go (RFC 2047 6.2);
 * a word that cannot be decoded stays as it was.
 */
char *
mime_decode_header(const char *s, size_t n)
{
	char	*out, *w, *no;
	size_t	 size = n + 1, o = 0, i = 0, used, wl, pending = 0;
	int	 last_word = 0;

	if ((out = malloc(size)) == NULL)
		return NULL;
	while (i < n) {
		if (s[i] == '=' && i + 1 < n && s[i + 1] == '?' &&
		    (w = encoded_word(s + i, n - i, &used)) != NULL) {
			if (last_word)
				o -= pending;
			wl = strlen(w);
			if (o + wl + (n - i) + 1 > size) {
				size = o + wl + (n - i) + 1;
				if ((no = realloc(out, size)) == NULL) {
					free(w);
					free(out);
					return NULL;
				}
				out = no;
			}
			memcpy(out + o, w, wl);
			o += wl;
			free(w);
			i += used;
			last_word = 1;
			pending = 0;
			continue;
		}
		if (s[i] == ' ' || s[i] == '\t') {
			pending++;
		} else if (s[i] != '\r' && s[i] != '\n') {
			last_word = 0;
			pending = 0;
		}
		if (s[i] != '\r' && s[i] != '\n')
			out[o++] = s[i];
		i++;
	}
	out[o] = '\0';
	return out;
}

/* Case folding. */

static locale_t	 fold_locale;

/* C.UTF-8's character classes, or 0: loaded once, before the chroot. */
locale_t
mime_utf8_locale(void)
{
	static int	 tried;

	if (!tried) {
		tried = 1;
		fold_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8",
		    (locale_t)0);
	}
	return fold_locale;
}

static uint32_t
fold_cp(uint32_t c)
{
	if (c < 0x80)
		return c >= 'A' && c <= 'Z' ? c + 32 : c;
	/* Simple case folding cases that lowercasing misses. */
	if (c == 0x3c2)		/* final sigma */
		return 0x3c3;
	if (c == 0x17f)		/* long s */
		return 's';
	if (c == 0x1e9e)	/* capital sharp s */
		return 0xdf;
	if (mime_utf8_locale() != (locale_t)0)
		return towlower_l(c, fold_locale);
	/* Without the locale: Latin-1, Greek and Cyrillic capitals. */
	if ((c >= 0xc0 && c <= 0xde && c != 0xd7) ||
	    (c >= 0x391 && c <= 0x3ab && c != 0x3a2) ||
	    (c >= 0x410 && c <= 0x42f))
		return c + 32;
	if (c >= 0x400 && c <= 0x40f)
		return c + 80;
	return c;
}

static size_t
utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t	 len, i;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (len > n)
		return 0;
	*cp = s[0] & (0x7f >> len);
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		*cp = *cp << 6 | (s[i] & 0x3f);
	}
	return len;
}

size_t
mime_utf8_encode(uint32_t c, char *out)
{
	if (c < 0x80) {
		out[0] = c;
		return 1;
	}
	if (c < 0x800) {
		out[0] = 0xc0 | c >> 6;
		out[1] = 0x80 | (c & 0x3f);
		return 2;
	}
	if (c < 0x10000) {
		out[0] = 0xe0 | c >> 12;
		out[1] = 0x80 | ((c >> 6) & 0x3f);
		out[2] = 0x80 | (c & 0x3f);
		return 3;
	}
	out[0] = 0xf0 | c >> 18;
	out[1] = 0x80 | ((c >> 12) & 0x3f);
	out[2] = 0x80 | ((c >> 6) & 0x3f);
	out[3] = 0x80 | (c & 0x3f);
	return 4;
}

/*
 * s with each character written by fn (which writes at most 4 bytes,
 * nor more than 3 per byte it came from); bytes that are not UTF-8 are
 * copied as they are.  A new string, NUL ended; NULL out of memory.
 */
char *
mime_utf8_map(const char *s, size_t n, size_t (*fn)(uint32_t, char *),
    size_t *outlen)
{
	char		*out;
	size_t		 i = 0, o = 0, l;
	uint32_t	 cp;

	if ((out = malloc(n * 3 + 1)) == NULL)
		return NULL;
	while (i < n) {
		if ((l = utf8_decode((const unsigned char *)s + i, n - i,
		    &cp)) == 0) {
			out[o++] = s[i++];
			continue;
		}
		o += fn(cp, out + o);
		i += l;
	}
	out[o] = '\0';
	*outlen = o;
	return out;
}

static size_t
fold_write(uint32_t cp, char *out)
{
	return mime_utf8_encode(fold_cp(cp), out);
}

/* A folded copy. */
static char *
utf8_fold(const char *s, size_t n, size_t *outlen)
{
	return mime_utf8_map(s, n, fold_write, outlen);
}

/* Does hay hold needle, case folded?  1, 0, or -1 out of memory. */
int
mime_utf8_contains(const char *hay, size_t hn, const char *needle,
    size_t nn)
{
	char	*fh, *fn;
	size_t	 fhl, fnl;
	int	 r;

	if (nn == 0)
		return 1;
	if ((fh = utf8_fold(hay, hn, &fhl)) == NULL)
		return -1;
	if ((fn = utf8_fold(needle, nn, &fnl)) == NULL) {
		free(fh);
		return -1;
	}
	r = memmem(fh, fhl, fn, fnl) != NULL;
	free(fh);
	free(fn);
	return r;
}
