/*
 * imap_casemap: the strings SORT compares and THREAD matches, mapped
 * as the i;unicode-casemap collation of RFC 5051 asks (RFC 5256 wants
 * it for I18NLEVEL=1): each character to its titlecase, then
 * decomposed (NFKD), so that the octets compare in the collation's
 * order.  Titlecase is towupper(3) in C.UTF-8 (the same as titlecase
 * but for four digraphs), with the Latin, Greek and Cyrillic letters
 * done here when the locale is missing; the decomposition covers the
 * Latin letters of U+00A0..U+017F, which is what names and subjects in
 * European languages use; other characters stay as they are.
 */

#include <sys/types.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <wctype.h>

#include "mime.h"
#include "imap_sortkey.h"

/* A capital and its NFKD: one ASCII letter and a combining mark. */
static const struct {
	uint16_t	 cp;
	char		 base;
	uint16_t	 mark;
} casemap_nfkd[] = {
	{ 0xc0, 'A', 0x300 }, { 0xc1, 'A', 0x301 }, { 0xc2, 'A', 0x302 },
	{ 0xc3, 'A', 0x303 }, { 0xc4, 'A', 0x308 }, { 0xc5, 'A', 0x30a },
	{ 0xc7, 'C', 0x327 }, { 0xc8, 'E', 0x300 }, { 0xc9, 'E', 0x301 },
	{ 0xca, 'E', 0x302 }, { 0xcb, 'E', 0x308 }, { 0xcc, 'I', 0x300 },
	{ 0xcd, 'I', 0x301 }, { 0xce, 'I', 0x302 }, { 0xcf, 'I', 0x308 },
	{ 0xd1, 'N', 0x303 }, { 0xd2, 'O', 0x300 }, { 0xd3, 'O', 0x301 },
	{ 0xd4, 'O', 0x302 }, { 0xd5, 'O', 0x303 }, { 0xd6, 'O', 0x308 },
	{ 0xd9, 'U', 0x300 }, { 0xda, 'U', 0x301 }, { 0xdb, 'U', 0x302 },
	{ 0xdc, 'U', 0x308 }, { 0xdd, 'Y', 0x301 },
	{ 0x100, 'A', 0x304 }, { 0x102, 'A', 0x306 }, { 0x104, 'A', 0x328 },
	{ 0x106, 'C', 0x301 }, { 0x108, 'C', 0x302 }, { 0x10a, 'C', 0x307 },
	{ 0x10c, 'C', 0x30c }, { 0x10e, 'D', 0x30c }, { 0x112, 'E', 0x304 },
	{ 0x114, 'E', 0x306 }, { 0x116, 'E', 0x307 }, { 0x118, 'E', 0x328 },
	{ 0x11a, 'E', 0x30c }, { 0x11c, 'G', 0x302 }, { 0x11e, 'G', 0x306 },
	{ 0x120, 'G', 0x307 }, { 0x122, 'G', 0x327 }, { 0x124, 'H', 0x302 },
	{ 0x128, 'I', 0x303 }, { 0x12a, 'I', 0x304 }, { 0x12c, 'I', 0x306 },
	{ 0x12e, 'I', 0x328 }, { 0x130, 'I', 0x307 }, { 0x134, 'J', 0x302 },
	{ 0x136, 'K', 0x327 }, { 0x139, 'L', 0x301 }, { 0x13b, 'L', 0x327 },
	{ 0x13d, 'L', 0x30c }, { 0x143, 'N', 0x301 }, { 0x145, 'N', 0x327 },
	{ 0x147, 'N', 0x30c }, { 0x14c, 'O', 0x304 }, { 0x14e, 'O', 0x306 },
	{ 0x150, 'O', 0x30b }, { 0x154, 'R', 0x301 }, { 0x156, 'R', 0x327 },
	{ 0x158, 'R', 0x30c }, { 0x15a, 'S', 0x301 }, { 0x15c, 'S', 0x302 },
	{ 0x15e, 'S', 0x327 }, { 0x160, 'S', 0x30c }, { 0x162, 'T', 0x327 },
	{ 0x164, 'T', 0x30c }, { 0x168, 'U', 0x303 }, { 0x16a, 'U', 0x304 },
	{ 0x16c, 'U', 0x306 }, { 0x16e, 'U', 0x30a }, { 0x170, 'U', 0x30b },
	{ 0x172, 'U', 0x328 }, { 0x174, 'W', 0x302 }, { 0x176, 'Y', 0x302 },
	{ 0x178, 'Y', 0x308 }, { 0x179, 'Z', 0x301 }, { 0x17b, 'Z', 0x307 },
	{ 0x17d, 'Z', 0x30c },
};

/*
 * Compatibility decompositions to one ASCII character; the ordinal
 * indicators to capitals, so that mapping twice changes nothing.
 */
static const struct {
	uint16_t	 cp;
	char		 to;
} casemap_compat[] = {
	{ 0xa0, ' ' }, { 0xaa, 'A' }, { 0xb2, '2' }, { 0xb3, '3' },
	{ 0xb9, '1' }, { 0xba, 'O' },
};

/* Titlecase without the locale: Latin, Greek and Cyrillic letters. */
static uint32_t
casemap_upper_builtin(uint32_t c)
{
	if ((c >= 0xe0 && c <= 0xfe && c != 0xf7) ||
	    (c >= 0x3b1 && c <= 0x3cb && c != 0x3c2) ||
	    (c >= 0x430 && c <= 0x44f))
		return c - 32;
	if (c == 0xff)
		return 0x178;
	if (c == 0x131)		/* dotless i */
		return 'I';
	if (c == 0x17f)		/* long s */
		return 'S';
	if (c == 0x3c2)		/* final sigma */
		return 0x3a3;
	if (c >= 0x450 && c <= 0x45f)
		return c - 80;
	/* Latin Extended-A: pairs, the capital first but in two runs. */
	if (((c >= 0x100 && c <= 0x137) || (c >= 0x14a && c <= 0x177)) &&
	    (c & 1))
		return c - 1;
	if (((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17e)) &&
	    !(c & 1))
		return c - 1;
	return c;
}

static uint32_t
casemap_title(uint32_t c)
{
	locale_t	 loc;

	if (c < 0x80)
		return c >= 'a' && c <= 'z' ? c - 32 : c;
	/* The digraphs' titlecase is their middle form. */
	if (c >= 0x1c4 && c <= 0x1cc)
		return 0x1c5 + (c - 0x1c4) / 3 * 3;
	if (c >= 0x1f1 && c <= 0x1f3)
		return 0x1f2;
	if ((loc = mime_utf8_locale()) != (locale_t)0)
		return towupper_l(c, loc);
	return casemap_upper_builtin(c);
}

/* The NFKD of one titlecased character, written at out: its length. */
static size_t
casemap_decompose(uint32_t c, char *out)
{
	size_t	 i;

	if (c < 0x80 || c > 0x17f)
		return mime_utf8_encode(c, out);
	for (i = 0; i < sizeof(casemap_nfkd) / sizeof(casemap_nfkd[0]); i++)
		if (casemap_nfkd[i].cp == c) {
			out[0] = casemap_nfkd[i].base;
			return 1 + mime_utf8_encode(casemap_nfkd[i].mark,
			    out + 1);
		}
	for (i = 0; i < sizeof(casemap_compat) / sizeof(casemap_compat[0]);
	    i++)
		if (casemap_compat[i].cp == c) {
			out[0] = casemap_compat[i].to;
			return 1;
		}
	return mime_utf8_encode(c, out);
}

static size_t
casemap_write(uint32_t cp, char *out)
{
	return casemap_decompose(casemap_title(cp), out);
}

char *
imap_casemap(const char *s, size_t n)
{
	size_t	 len;

	return mime_utf8_map(s, n, casemap_write, &len);
}
