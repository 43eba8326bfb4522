/*
 * passwd_legacy: the digest-based password schemes of Dovecot 2.3 that
 * old user tables still hold, so that a switch to tsamba locks nobody
 * out: plain and salted MD5/SHA-1/SHA-2 ({PLAIN-MD5}, {SHA512},
 * {SSHA256}, ...), {PBKDF2} and {SCRAM-SHA-1}/{SCRAM-SHA-256}.  They are
 * verified, never written: tsambactl check names the users who still
 * have them.  The digests come from libcrypto (EVP), which the suite
 * links for DKIM already.
 *
 * Every comparison of a computed value with the stored one takes a time
 * that depends only on the length of the stored one.
 */

#include <sys/types.h>

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "passwd.h"
#include "passwd_priv.h"

static const EVP_MD	*md_of(enum pw_md);
static int		 parse_rounds(const char **, char, unsigned long *);

static const EVP_MD *
md_of(enum pw_md md)
{
	switch (md) {
	case PW_MD5:
		return EVP_md5();
	case PW_SHA1:
		return EVP_sha1();
	case PW_SHA256:
		return EVP_sha256();
	default:
		return EVP_sha512();
	}
}

int
pw_ct_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

/* Standard base64 with its padding, or hex of either case. */
int
pw_decode(enum pw_enc enc, const char *text, unsigned char *out,
    size_t outsz)
{
	unsigned char	 buf[PW_RAW_MAX + 3];
	size_t		 len = strlen(text), pad = 0, hexlen;
	int		 n;

	switch (enc) {
	case PW_ENC_NONE:
		if (len > outsz)
			return -1;
		memcpy(out, text, len);
		return len;
	case PW_ENC_HEX:
		if (len == 0 || len % 2 != 0 || len / 2 > outsz ||
		    strspn(text, "0123456789abcdefABCDEF") != len)
			return -1;
		if (OPENSSL_hexstr2buf_ex(out, outsz, &hexlen, text,
		    '\0') != 1)
			return -1;
		return (int)hexlen;
	default:
		if (len == 0 || len % 4 != 0 || len / 4 * 3 > sizeof(buf))
			return -1;
		/* EVP_DecodeBlock counts the padding as zero bytes. */
		if (text[len - 1] == '=')
			pad++;
		if (text[len - 2] == '=')
			pad++;
		if (memchr(text, '=', len - pad) != NULL ||
		    strspn(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
		    "qrstuvwxyz0123456789+/=") != len)
			return -1;
		if ((n = EVP_DecodeBlock(buf, (const unsigned char *)text,
		    len)) < 0 || (size_t)n < pad || (size_t)n - pad > outsz)
			return -1;
		memcpy(out, buf, n - pad);
		return n - pad;
	}
}

int
pw_verify_digest(enum pw_md md, int salted, enum pw_enc enc,
    const char *hash, const char *password, size_t len)
{
	unsigned char	 raw[PW_RAW_MAX], out[EVP_MAX_MD_SIZE];
	const EVP_MD	*evp = md_of(md);
	EVP_MD_CTX	*ctx;
	size_t		 mdlen = EVP_MD_get_size(evp);
	int		 n, rv;

	if (enc == PW_ENC_GUESS)
		enc = strlen(hash) == mdlen * 2 ? PW_ENC_HEX : PW_ENC_B64;
	if ((n = pw_decode(enc, hash, raw, sizeof(raw))) == -1)
		return PASSWD_BADSCHEME;
	/* Unsalted: the digest alone; salted: a salt of one byte or more. */
	if (salted ? (size_t)n <= mdlen : (size_t)n != mdlen)
		return PASSWD_BADSCHEME;
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return PASSWD_TEMPFAIL;
	if (EVP_DigestInit_ex(ctx, evp, NULL) != 1 ||
	    EVP_DigestUpdate(ctx, password, len) != 1 ||
	    (salted && EVP_DigestUpdate(ctx, raw + mdlen, n - mdlen) != 1) ||
	    EVP_DigestFinal_ex(ctx, out, NULL) != 1)
		rv = PASSWD_TEMPFAIL;
	else
		rv = pw_ct_equal(out, raw, mdlen) ? PASSWD_OK :
		    PASSWD_MISMATCH;
	EVP_MD_CTX_free(ctx);
	explicit_bzero(out, sizeof(out));
	return rv;
}

/* Decimal digits up to stop, at least 1 and at most the cap. */
static int
parse_rounds(const char **sp, char stop, unsigned long *v)
{
	const char	*s = *sp;

	if (pw_parse_uint(&s, PASSWD_PBKDF2_ROUNDS_MAX, v) == -1 ||
	    *v == 0 || *s != stop)
		return -1;
	*sp = s + 1;
	return 0;
}

/* Dovecot's own format: "$1$" salt "$" rounds "$" hex of the key. */
int
pw_verify_pbkdf2(const char *hash, const char *password, size_t len)
{
	unsigned char	 key[PW_RAW_MAX], out[PW_RAW_MAX];
	const char	*salt, *end;
	unsigned long	 rounds;
	int		 n, rv;

	if (strncmp(hash, "$1$", 3) != 0)
		return PASSWD_BADSCHEME;
	salt = hash + 3;
	if ((end = strchr(salt, '$')) == NULL || end == salt)
		return PASSWD_BADSCHEME;
	hash = end + 1;
	if (parse_rounds(&hash, '$', &rounds) == -1 ||
	    (n = pw_decode(PW_ENC_HEX, hash, key, sizeof(key))) == -1 ||
	    n < 16 || n > 64)
		return PASSWD_BADSCHEME;
	if (PKCS5_PBKDF2_HMAC(password, len, (const unsigned char *)salt,
	    end - salt, rounds, EVP_sha1(), n, out) != 1)
		return PASSWD_TEMPFAIL;
	rv = pw_ct_equal(out, key, n) ? PASSWD_OK : PASSWD_MISMATCH;
	explicit_bzero(out, sizeof(out));
	return rv;
}

/*
 * RFC 5802: StoredKey = H(HMAC(Hi(password, salt, i), "Client Key")).
 * The server key is not needed to check a password.
 */
int
pw_verify_scram(enum pw_md md, const char *hash, const char *password,
    size_t len)
{
	unsigned char	 salt[PW_RAW_MAX], stored[PW_RAW_MAX];
	unsigned char	 salted[EVP_MAX_MD_SIZE], ckey[EVP_MAX_MD_SIZE];
	unsigned char	 out[EVP_MAX_MD_SIZE];
	char		 field[PW_RAW_MAX * 2];
	const EVP_MD	*evp = md_of(md);
	const char	*s = hash, *comma;
	unsigned long	 iter;
	unsigned int	 clen;
	size_t		 mdlen = EVP_MD_get_size(evp), flen;
	int		 saltlen, n, rv;

	if (parse_rounds(&s, ',', &iter) == -1 ||
	    (comma = strchr(s, ',')) == NULL ||
	    (flen = comma - s) >= sizeof(field))
		return PASSWD_BADSCHEME;
	memcpy(field, s, flen);
	field[flen] = '\0';
	if ((saltlen = pw_decode(PW_ENC_B64, field, salt, sizeof(salt))) < 1)
		return PASSWD_BADSCHEME;
	s = comma + 1;
	if ((comma = strchr(s, ',')) == NULL ||
	    (flen = comma - s) >= sizeof(field) ||
	    strchr(comma + 1, ',') != NULL)
		return PASSWD_BADSCHEME;
	memcpy(field, s, flen);
	field[flen] = '\0';
	if ((n = pw_decode(PW_ENC_B64, field, stored, sizeof(stored))) == -1 ||
	    (size_t)n != mdlen || pw_decode(PW_ENC_B64, comma + 1, out,
	    sizeof(out)) != n)
		return PASSWD_BADSCHEME;
	rv = PASSWD_TEMPFAIL;
	if (PKCS5_PBKDF2_HMAC(password, len, salt, saltlen, iter, evp,
	    mdlen, salted) == 1 &&
	    HMAC(evp, salted, mdlen, (const unsigned char *)"Client Key", 10,
	    ckey, &clen) != NULL &&
	    EVP_Digest(ckey, clen, out, NULL, evp, NULL) == 1)
		rv = pw_ct_equal(out, stored, mdlen) ? PASSWD_OK :
		    PASSWD_MISMATCH;
	explicit_bzero(salted, sizeof(salted));
	explicit_bzero(ckey, sizeof(ckey));
	explicit_bzero(out, sizeof(out));
	return rv;
}
