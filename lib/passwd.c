/*
 * passwd: check and make password hashes in the "{SCHEME}hash" form
 * Dovecot writes, make random passwords and apply the password policy.
 * crypt(3) schemes go through libxcrypt's crypt_rn() with a private
 * struct crypt_data per call, Argon2id through libargon2, so that the
 * worker threads of tsamba-authd can all hash at once.
 *
 * A stored hash comes from a table an admin (or an attacker with write
 * access to it) controls, so its cost parameters are capped below: one
 * login must not cost seconds of CPU or gigabytes of memory.
 *
 * Every scheme Dovecot 2.3 verifies and that tables still hold is read
 * (passwd.h lists them); the digest ones are in passwd_legacy.c.  Those
 * Dovecot can verify but tsamba does not are each for a SASL mechanism
 * tsamba does not offer and need more than a password to check:
 * CRAM-MD5/HMAC-MD5 (an MD5 mid-state), DIGEST-MD5 (user and realm),
 * PLAIN-MD4 (MD4 is gone from OpenSSL 3's default provider), OTP, SKEY,
 * RPA, LANMAN, NTLM and PLAIN-TRUNC.
 */

#include <sys/types.h>
#include <sys/random.h>

#include <argon2.h>
#include <crypt.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "passwd.h"
#include "passwd_priv.h"

/*
 * DoS caps on the parameters of a stored hash; a hash over them is
 * PASSWD_BADSCHEME.  Measured on one core of a 2020s x86 server: each
 * cap costs well under a second per login.  The fuzz build lowers them
 * with -D to keep its speed; the daemons use these.
 */
#ifndef PASSWD_SHA_ROUNDS_MAX
#define PASSWD_SHA_ROUNDS_MAX	1000000	/* SHA-crypt; default is 5000 */
#endif
#ifndef PASSWD_BCRYPT_COST_MAX
#define PASSWD_BCRYPT_COST_MAX	14	/* about 1 s; doveadm writes 5 */
#endif
#ifndef PASSWD_YESCRYPT_COST_MAX
#define PASSWD_YESCRYPT_COST_MAX 11	/* libxcrypt's highest; default 5 */
#endif
#ifndef PASSWD_ARGON2_M_MAX
#define PASSWD_ARGON2_M_MAX	1048576	/* KiB, 1 GiB */
#endif
#ifndef PASSWD_ARGON2_T_MAX
#define PASSWD_ARGON2_T_MAX	16
#endif
#ifndef PASSWD_ARGON2_P_MAX
#define PASSWD_ARGON2_P_MAX	16
#endif
#ifndef PASSWD_ARGON2_WORK_MAX
#define PASSWD_ARGON2_WORK_MAX	4194304	/* m * t: four passes over 1 GiB */
#endif

/* Longest stored hash looked at; crypt(3) settings are shorter still. */
#define PASSWD_STORED_MAX	2048
#define PASSWD_SCHEME_MAX	32

/*
 * What passwd_hash() writes.  SHA-crypt keeps libxcrypt's default
 * rounds (5000) and 16 salt characters, exactly like
 * `doveadm pw -s SHA512-CRYPT`.  bcrypt uses cost 10 (doveadm's 5 is
 * weak today).  Argon2id uses doveadm's defaults: 64 MiB, 3 passes, one
 * lane, 16 bytes of salt, a 32-byte hash.
 */
#define HASH_BCRYPT_COST	10
#define HASH_ARGON2_T		3
#define HASH_ARGON2_M		65536
#define HASH_ARGON2_P		1
#define HASH_ARGON2_SALTLEN	16
#define HASH_ARGON2_HASHLEN	32

enum scheme {
	SCHEME_SHA512,
	SCHEME_SHA256,
	SCHEME_BLF,
	SCHEME_ARGON2ID,
	SCHEME_ARGON2I,
	SCHEME_CRYPT,
	SCHEME_MD5CRYPT,
	SCHEME_DESCRYPT,
	SCHEME_MD5,		/* Dovecot's {MD5}: MD5-CRYPT or PLAIN-MD5 */
	SCHEME_DIGEST,		/* digest(password) */
	SCHEME_SALTED,		/* digest(password || salt) || salt */
	SCHEME_PBKDF2,
	SCHEME_SCRAM,
	SCHEME_PLAIN
};

/*
 * The schemes by Dovecot's names.  enc is how the hash is written when
 * no ".B64"/".HEX" suffix says otherwise; weak: fast to brute-force
 * from a stolen table (or stored in clear), for tsambactl check.
 */
static const struct scheme_def {
	const char	*name;
	enum scheme	 scheme;
	enum pw_md	 md;
	enum pw_enc	 enc;
	int		 weak;
} schemes[] = {
	{ "SHA512-CRYPT",	SCHEME_SHA512,	PW_SHA512, PW_ENC_NONE, 0 },
	{ "SHA256-CRYPT",	SCHEME_SHA256,	PW_SHA256, PW_ENC_NONE, 0 },
	{ "BLF-CRYPT",		SCHEME_BLF,	PW_SHA1, PW_ENC_NONE, 0 },
	{ "ARGON2ID",		SCHEME_ARGON2ID, PW_SHA1, PW_ENC_NONE, 0 },
	{ "ARGON2I",		SCHEME_ARGON2I,	PW_SHA1, PW_ENC_NONE, 0 },
	{ "CRYPT",		SCHEME_CRYPT,	PW_SHA1, PW_ENC_NONE, 0 },
	{ "MD5-CRYPT",		SCHEME_MD5CRYPT, PW_MD5, PW_ENC_NONE, 1 },
	{ "DES-CRYPT",		SCHEME_DESCRYPT, PW_MD5, PW_ENC_NONE, 1 },
	{ "MD5",		SCHEME_MD5,	PW_MD5, PW_ENC_GUESS, 1 },
	{ "PLAIN-MD5",		SCHEME_DIGEST,	PW_MD5, PW_ENC_GUESS, 1 },
	{ "LDAP-MD5",		SCHEME_DIGEST,	PW_MD5, PW_ENC_GUESS, 1 },
	{ "SHA",		SCHEME_DIGEST,	PW_SHA1, PW_ENC_GUESS, 1 },
	{ "SHA1",		SCHEME_DIGEST,	PW_SHA1, PW_ENC_GUESS, 1 },
	{ "SHA256",		SCHEME_DIGEST,	PW_SHA256, PW_ENC_GUESS, 1 },
	{ "SHA512",		SCHEME_DIGEST,	PW_SHA512, PW_ENC_GUESS, 1 },
	{ "SMD5",		SCHEME_SALTED,	PW_MD5, PW_ENC_B64, 1 },
	{ "SSHA",		SCHEME_SALTED,	PW_SHA1, PW_ENC_B64, 1 },
	{ "SSHA256",		SCHEME_SALTED,	PW_SHA256, PW_ENC_B64, 1 },
	{ "SSHA512",		SCHEME_SALTED,	PW_SHA512, PW_ENC_B64, 1 },
	{ "PBKDF2",		SCHEME_PBKDF2,	PW_SHA1, PW_ENC_NONE, 1 },
	{ "SCRAM-SHA-1",	SCHEME_SCRAM,	PW_SHA1, PW_ENC_NONE, 1 },
	{ "SCRAM-SHA-256",	SCHEME_SCRAM,	PW_SHA256, PW_ENC_NONE, 1 },
	{ "PLAIN",		SCHEME_PLAIN,	PW_SHA1, PW_ENC_NONE, 1 },
	{ "CLEAR",		SCHEME_PLAIN,	PW_SHA1, PW_ENC_NONE, 1 },
	{ "CLEARTEXT",		SCHEME_PLAIN,	PW_SHA1, PW_ENC_NONE, 1 },
};

/* A stored hash taken apart: its scheme, encoding and the hash text. */
struct stored {
	const struct scheme_def	*def;
	enum pw_enc		 enc;
	const char		*hash;
};

static const struct scheme_def *scheme_lookup(const char *, size_t);
static const struct scheme_def *scheme_named(const char *);
static int	scheme_split(const char *, struct stored *);
static int	crypt_charset_ok(const char *);
static int	sha_setting_ok(const char *);
static int	bcrypt_setting_ok(const char *);
static int	yescrypt_setting_ok(const char *);
static int	md5_setting_ok(const char *);
static int	des_setting_ok(const char *);
static int	crypt_setting_ok(enum scheme, const char *);
static int	verify_crypt(const char *, const char *);
static int	argon2_params_ok(const char *, const char *);
static int	verify_argon2(enum scheme, const char *, const char *, size_t);
static int	verify_plain(const struct stored *, const char *, size_t);
static int	verify_scheme(const struct stored *, const char *, size_t);
static const char *crypt_method(const char *, int *);
static int	wellformed(const struct stored *);
static int	random_fill(void *, size_t);
static size_t	utf8_decode(const unsigned char *, unsigned long *);
static int	hash_crypt(const char *, const char *, unsigned long,
		    const char *, char *, size_t);
static int	hash_argon2id(const char *, size_t, char *, size_t);

/* The scheme named by the len bytes at name, or NULL. */
static const struct scheme_def *
scheme_lookup(const char *name, size_t len)
{
	size_t	i;

	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (strlen(schemes[i].name) == len &&
		    strncasecmp(schemes[i].name, name, len) == 0)
			return &schemes[i];
	return NULL;
}

static const struct scheme_def *
scheme_named(const char *name)
{
	return scheme_lookup(name, strlen(name));
}

/*
 * Split "{SCHEME}hash" or "{SCHEME.B64}hash" / "{SCHEME.HEX}hash" into
 * its parts.  Without braces the string is a bare crypt(3) hash, or an
 * Argon2 one (its form is unambiguous, so it needs no tag either).  -1
 * if the tag is unknown, or a suffix is given to a crypt(3) scheme,
 * which has no encoding to choose.
 */
static int
scheme_split(const char *stored, struct stored *st)
{
	const char	*end, *dot;
	size_t		 n;

	if (stored[0] != '{') {
		st->hash = stored;
		st->enc = PW_ENC_NONE;
		if (strncmp(stored, "$argon2id$", 10) == 0)
			st->def = scheme_named("ARGON2ID");
		else if (strncmp(stored, "$argon2i$", 9) == 0)
			st->def = scheme_named("ARGON2I");
		else
			st->def = scheme_named("CRYPT");
		return 0;
	}
	n = strnlen(stored, PASSWD_SCHEME_MAX + 2);
	if ((end = memchr(stored, '}', n)) == NULL)
		return -1;
	st->hash = end + 1;
	if ((dot = memchr(stored, '.', end - stored)) == NULL)
		dot = end;
	if ((st->def = scheme_lookup(stored + 1, dot - stored - 1)) == NULL)
		return -1;
	st->enc = st->def->enc;
	if (dot == end)
		return 0;
	if (st->def->enc == PW_ENC_NONE && st->def->scheme != SCHEME_PLAIN)
		return -1;
	dot++;
	if ((end - dot == 3 && strncasecmp(dot, "B64", 3) == 0) ||
	    (end - dot == 6 && strncasecmp(dot, "BASE64", 6) == 0))
		st->enc = PW_ENC_B64;
	else if (end - dot == 3 && strncasecmp(dot, "HEX", 3) == 0)
		st->enc = PW_ENC_HEX;
	else
		return -1;
	return 0;
}

/* Read a decimal number of at most 10 digits and at most max. */
int
pw_parse_uint(const char **sp, unsigned long max, unsigned long *v)
{
	const char	*s = *sp;
	unsigned long	 n = 0;
	int		 digits = 0;

	while (*s >= '0' && *s <= '9') {
		if (++digits > 10)
			return -1;
		n = n * 10 + (*s++ - '0');
	}
	if (digits == 0 || n > max)
		return -1;
	*sp = s;
	*v = n;
	return 0;
}

/* crypt(3) strings use "./0-9A-Za-z" plus '$' and "rounds=" digits. */
static int
crypt_charset_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '.' || *s == '/' ||
		    *s == '$' || *s == '='))
			return 0;
	return 1;
}

/* "$6$" or "$5$", then an optional "rounds=N$" under the cap. */
static int
sha_setting_ok(const char *s)
{
	unsigned long	rounds;

	s += 3;
	if (strncmp(s, "rounds=", 7) != 0)
		return 1;
	s += 7;
	if (pw_parse_uint(&s, PASSWD_SHA_ROUNDS_MAX, &rounds) == -1)
		return 0;
	return *s == '$';
}

/* "$2y$", "$2b$" or "$2a$", then a two-digit cost under the cap. */
static int
bcrypt_setting_ok(const char *s)
{
	int	cost;

	if (s[0] != '$' || s[1] != '2' ||
	    (s[2] != 'y' && s[2] != 'b' && s[2] != 'a') || s[3] != '$')
		return 0;
	s += 4;
	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' ||
	    s[2] != '$')
		return 0;
	cost = (s[0] - '0') * 10 + (s[1] - '0');
	return cost >= 4 && cost <= PASSWD_BCRYPT_COST_MAX;
}

/*
 * yescrypt packs its cost into a variable-length parameter field.
 * Rather than decode it, accept only the fields libxcrypt itself makes
 * for the costs up to the cap, which are all that real hashes carry.
 */
static int
yescrypt_setting_ok(const char *s)
{
	static const char	 rbytes[16];
	char			 setting[CRYPT_GENSALT_OUTPUT_SIZE];
	const char		*end;
	size_t			 n;
	unsigned long		 cost;

	if ((end = strchr(s + 3, '$')) == NULL)
		return 0;
	n = end - s + 1;	/* "$y$params$" */
	for (cost = 1; cost <= PASSWD_YESCRYPT_COST_MAX; cost++) {
		if (crypt_gensalt_rn("$y$", cost, rbytes, sizeof(rbytes),
		    setting, sizeof(setting)) == NULL)
			return 0;
		if (strlen(setting) > n && strncmp(setting, s, n) == 0)
			return 1;
	}
	return 0;
}

/* "$1$", up to 8 salt characters, "$": libxcrypt's md5crypt. */
static int
md5_setting_ok(const char *s)
{
	const char	*end;

	if (strncmp(s, "$1$", 3) != 0 || (end = strchr(s + 3, '$')) == NULL)
		return 0;
	return end - (s + 3) <= 8;
}

/* Traditional DES crypt: 13 characters, 2 of salt and 11 of hash. */
static int
des_setting_ok(const char *s)
{
	return strlen(s) == 13 && strchr(s, '$') == NULL &&
	    strchr(s, '=') == NULL;
}

static int
crypt_setting_ok(enum scheme scheme, const char *s)
{
	int	sha512, sha256, blf, yes, md5;

	if (!crypt_charset_ok(s))
		return 0;
	sha512 = strncmp(s, "$6$", 3) == 0;
	sha256 = strncmp(s, "$5$", 3) == 0;
	blf = strncmp(s, "$2", 2) == 0;
	yes = strncmp(s, "$y$", 3) == 0;
	md5 = strncmp(s, "$1$", 3) == 0;

	switch (scheme) {
	case SCHEME_SHA512:
		return sha512 && sha_setting_ok(s);
	case SCHEME_SHA256:
		return sha256 && sha_setting_ok(s);
	case SCHEME_BLF:
		return blf && bcrypt_setting_ok(s);
	case SCHEME_MD5CRYPT:
	case SCHEME_MD5:
		return md5_setting_ok(s);
	case SCHEME_DESCRYPT:
		return des_setting_ok(s);
	case SCHEME_CRYPT:
		if (sha512 || sha256)
			return sha_setting_ok(s);
		if (blf)
			return bcrypt_setting_ok(s);
		if (yes)
			return yescrypt_setting_ok(s);
		if (md5)
			return md5_setting_ok(s);
		return des_setting_ok(s);
	default:
		return 0;
	}
}

/*
 * Hash the password with the stored hash as setting and compare.  The
 * length of crypt's output depends only on the setting, so a length
 * that differs from the stored one means a malformed stored hash.
 */
static int
verify_crypt(const char *hash, const char *password)
{
	struct crypt_data	*cd;
	size_t			 len;
	int			 rv;

	if ((len = strlen(hash)) >= CRYPT_OUTPUT_SIZE)
		return PASSWD_BADSCHEME;
	/* 32 KiB: too much for the stack of a small worker thread. */
	if ((cd = calloc(1, sizeof(*cd))) == NULL)
		return PASSWD_TEMPFAIL;
	errno = 0;
	if (crypt_rn(password, hash, cd, sizeof(*cd)) == NULL) {
		if (errno == ENOMEM)
			rv = PASSWD_TEMPFAIL;
		else if (errno == ERANGE)	/* longer than crypt takes */
			rv = PASSWD_MISMATCH;
		else
			rv = PASSWD_BADSCHEME;
	} else if (cd->output[0] == '*' || strlen(cd->output) != len)
		rv = PASSWD_BADSCHEME;
	else
		rv = pw_ct_equal(cd->output, hash, len) ? PASSWD_OK :
		    PASSWD_MISMATCH;
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return rv;
}

/*
 * prefix "v=19$m=M,t=T,p=P$" with M, T, P under the caps; libargon2
 * checks the rest (base64 salt and hash, lower bounds).
 */
static int
argon2_params_ok(const char *s, const char *prefix)
{
	unsigned long	m, t, p;
	size_t		n = strlen(prefix);

	if (strncmp(s, prefix, n) != 0 || strncmp(s + n, "v=19$m=", 7) != 0)
		return 0;
	s += n + 7;
	if (pw_parse_uint(&s, PASSWD_ARGON2_M_MAX, &m) == -1 ||
	    strncmp(s, ",t=", 3) != 0)
		return 0;
	s += 3;
	if (pw_parse_uint(&s, PASSWD_ARGON2_T_MAX, &t) == -1 ||
	    strncmp(s, ",p=", 3) != 0)
		return 0;
	s += 3;
	if (pw_parse_uint(&s, PASSWD_ARGON2_P_MAX, &p) == -1 || *s != '$')
		return 0;
	return (unsigned long long)m * t <= PASSWD_ARGON2_WORK_MAX;
}

/* libargon2 recomputes the hash and compares it in constant time. */
static int
verify_argon2(enum scheme scheme, const char *hash, const char *password,
    size_t len)
{
	int	r;

	if (scheme == SCHEME_ARGON2ID) {
		if (!argon2_params_ok(hash, "$argon2id$"))
			return PASSWD_BADSCHEME;
		r = argon2id_verify(hash, password, len);
	} else {
		if (!argon2_params_ok(hash, "$argon2i$"))
			return PASSWD_BADSCHEME;
		r = argon2i_verify(hash, password, len);
	}
	switch (r) {
	case ARGON2_OK:
		return PASSWD_OK;
	case ARGON2_VERIFY_MISMATCH:
		return PASSWD_MISMATCH;
	case ARGON2_MEMORY_ALLOCATION_ERROR:
	case ARGON2_THREAD_FAIL:
		return PASSWD_TEMPFAIL;
	default:
		return PASSWD_BADSCHEME;
	}
}

/*
 * {PLAIN}, {CLEAR}, {CLEARTEXT}, also base64 or hex encoded: the loop
 * runs over the stored password whatever is typed, so the time tells
 * nothing about how much of it matched.
 */
static int
verify_plain(const struct stored *st, const char *password, size_t len)
{
	unsigned char		 raw[PW_RAW_MAX];
	volatile unsigned char	 diff;
	size_t			 i;
	unsigned char		 c;
	int			 slen;

	if ((slen = pw_decode(st->enc, st->hash, raw, sizeof(raw))) == -1)
		return PASSWD_BADSCHEME;
	diff = (size_t)slen != len;
	for (i = 0; i < (size_t)slen; i++) {
		c = i < len ? (unsigned char)password[i] : 0;
		diff |= raw[i] ^ c;
	}
	explicit_bzero(raw, sizeof(raw));
	return diff == 0 ? PASSWD_OK : PASSWD_MISMATCH;
}

static int
verify_scheme(const struct stored *st, const char *pw, size_t len)
{
	enum scheme	 scheme = st->def->scheme;

	switch (scheme) {
	case SCHEME_PLAIN:
		return verify_plain(st, pw, len);
	case SCHEME_ARGON2ID:
	case SCHEME_ARGON2I:
		return verify_argon2(scheme, st->hash, pw, len);
	case SCHEME_DIGEST:
	case SCHEME_SALTED:
		return pw_verify_digest(st->def->md, scheme == SCHEME_SALTED,
		    st->enc, st->hash, pw, len);
	case SCHEME_PBKDF2:
		return pw_verify_pbkdf2(st->hash, pw, len);
	case SCHEME_SCRAM:
		return pw_verify_scram(st->def->md, st->hash, pw, len);
	case SCHEME_MD5:
		/* Dovecot's {MD5}: an MD5-CRYPT hash, or else PLAIN-MD5. */
		if (strncmp(st->hash, "$1$", 3) != 0)
			return pw_verify_digest(PW_MD5, 0, st->enc, st->hash,
			    pw, len);
		/* FALLTHROUGH */
	default:
		if (!crypt_setting_ok(scheme, st->hash))
			return PASSWD_BADSCHEME;
		return verify_crypt(st->hash, pw);
	}
}

int
passwd_verify(const char *stored, const char *password)
{
	if (password == NULL)
		return PASSWD_MISMATCH;
	return passwd_verifyn(stored, password,
	    strnlen(password, PASSWD_MAX + 1));
}

int
passwd_verifyn(const char *stored, const char *password, size_t len)
{
	char		 pw[PASSWD_MAX + 1];
	struct stored	 st;
	int		 rv;

	if (stored == NULL || strnlen(stored, PASSWD_STORED_MAX + 1) >
	    PASSWD_STORED_MAX)
		return PASSWD_BADSCHEME;
	if (scheme_split(stored, &st) == -1)
		return PASSWD_BADSCHEME;
	if (password == NULL || len > PASSWD_MAX ||
	    memchr(password, '\0', len) != NULL)
		return PASSWD_MISMATCH;

	/* A private NUL-terminated copy: crypt_rn wants a C string. */
	memcpy(pw, password, len);
	pw[len] = '\0';
	rv = verify_scheme(&st, pw, len);
	explicit_bzero(pw, sizeof(pw));
	return rv;
}

/*
 * The name of a crypt(3) hash's method, by its prefix, and whether it
 * is weak; NULL if crypt(3) would not take it.
 */
static const char *
crypt_method(const char *hash, int *weak)
{
	*weak = 0;
	if (!crypt_setting_ok(SCHEME_CRYPT, hash))
		return NULL;
	if (strncmp(hash, "$6$", 3) == 0)
		return "SHA512-CRYPT";
	if (strncmp(hash, "$5$", 3) == 0)
		return "SHA256-CRYPT";
	if (strncmp(hash, "$2", 2) == 0)
		return "BLF-CRYPT";
	if (strncmp(hash, "$y$", 3) == 0)
		return "YESCRYPT";
	*weak = 1;
	return strncmp(hash, "$1$", 3) == 0 ? "MD5-CRYPT" : "DES-CRYPT";
}

int
passwd_strength(const char *stored, char *name, size_t namesz)
{
	struct stored	 st;
	const char	*method;
	int		 weak;

	if (name != NULL && namesz > 0)
		name[0] = '\0';
	if (stored == NULL || strnlen(stored, PASSWD_STORED_MAX + 1) >
	    PASSWD_STORED_MAX || scheme_split(stored, &st) == -1)
		return PASSWD_UNUSABLE;
	weak = st.def->weak;
	method = st.def->name;
	if (st.def->scheme == SCHEME_CRYPT &&
	    (method = crypt_method(st.hash, &weak)) == NULL)
		return PASSWD_UNUSABLE;
	if (name != NULL)
		strlcpy(name, method, namesz);
	if (!wellformed(&st))
		return PASSWD_UNUSABLE;
	return weak ? PASSWD_WEAK : PASSWD_STRONG;
}

/*
 * Could a login with this hash succeed?  Slow schemes are judged by
 * their settings, not hashed: check looks at every user.  The fast
 * ones are tried with an empty password, which a bad hash refuses.
 */
static int
wellformed(const struct stored *st)
{
	switch (st->def->scheme) {
	case SCHEME_ARGON2ID:
		return argon2_params_ok(st->hash, "$argon2id$");
	case SCHEME_ARGON2I:
		return argon2_params_ok(st->hash, "$argon2i$");
	case SCHEME_SHA512:
	case SCHEME_SHA256:
	case SCHEME_BLF:
	case SCHEME_CRYPT:
	case SCHEME_MD5CRYPT:
	case SCHEME_DESCRYPT:
		return crypt_setting_ok(st->def->scheme, st->hash);
	default:
		return verify_scheme(st, "", 0) != PASSWD_BADSCHEME;
	}
}

/* getrandom(2) until n bytes are there. */
static int
random_fill(void *buf, size_t n)
{
	unsigned char	*p = buf;
	ssize_t		 r;

	while (n > 0) {
		if ((r = getrandom(p, n, 0)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += r;
		n -= r;
	}
	return 0;
}

/* crypt_gensalt_rn draws its salt from getrandom(2) itself. */
static int
hash_crypt(const char *tag, const char *prefix, unsigned long count,
    const char *password, char *out, size_t outsz)
{
	struct crypt_data	*cd;
	char			 setting[CRYPT_GENSALT_OUTPUT_SIZE];
	int			 n, rv = -1;

	if (strlen(password) >= CRYPT_MAX_PASSPHRASE_SIZE)
		return -1;
	if (crypt_gensalt_rn(prefix, count, NULL, 0, setting,
	    sizeof(setting)) == NULL)
		return -1;
	if ((cd = calloc(1, sizeof(*cd))) == NULL)
		return -1;
	if (crypt_rn(password, setting, cd, sizeof(*cd)) != NULL &&
	    cd->output[0] != '*') {
		n = snprintf(out, outsz, "%s%s", tag, cd->output);
		if (n >= 0 && (size_t)n < outsz)
			rv = 0;
	}
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return rv;
}

static int
hash_argon2id(const char *password, size_t len, char *out, size_t outsz)
{
	unsigned char	salt[HASH_ARGON2_SALTLEN];
	char		enc[PASSWD_HASH_MAX];
	int		n;

	if (random_fill(salt, sizeof(salt)) == -1)
		return -1;
	if (argon2id_hash_encoded(HASH_ARGON2_T, HASH_ARGON2_M,
	    HASH_ARGON2_P, password, len, salt, sizeof(salt),
	    HASH_ARGON2_HASHLEN, enc, sizeof(enc)) != ARGON2_OK)
		return -1;
	n = snprintf(out, outsz, "{ARGON2ID}%s", enc);
	return n >= 0 && (size_t)n < outsz ? 0 : -1;
}

int
passwd_hash(const char *scheme, const char *password, char *out,
    size_t outsz)
{
	const struct scheme_def	*def;
	size_t			 len;
	int			 rv;

	if (scheme == NULL)
		scheme = "SHA512-CRYPT";
	if (password == NULL || out == NULL || outsz == 0 ||
	    (len = strnlen(password, PASSWD_MAX + 1)) > PASSWD_MAX)
		return -1;
	def = scheme_named(scheme);
	switch (def != NULL ? def->scheme : SCHEME_PLAIN) {
	case SCHEME_SHA512:
		rv = hash_crypt("{SHA512-CRYPT}", "$6$", 0, password, out,
		    outsz);
		break;
	case SCHEME_SHA256:
		rv = hash_crypt("{SHA256-CRYPT}", "$5$", 0, password, out,
		    outsz);
		break;
	case SCHEME_BLF:
		rv = hash_crypt("{BLF-CRYPT}", "$2y$", HASH_BCRYPT_COST,
		    password, out, outsz);
		break;
	case SCHEME_ARGON2ID:
		rv = hash_argon2id(password, len, out, outsz);
		break;
	default:
		/* The others are read, never written. */
		rv = -1;
		break;
	}
	if (rv == -1)
		out[0] = '\0';
	return rv;
}

/*
 * The alphabet of generated passwords: letters and digits without the
 * look-alikes I O l o 0 1, and five punctuation characters that need no
 * quoting in a shell, a URL's user info or a config file: "-_.,+".
 * 61 symbols, 5.9 bits each: 16 characters carry about 94 bits.
 */
static const char	gen_alphabet[] =
	"ABCDEFGHJKLMNPQRSTUVWXYZ"
	"abcdefghijkmnpqrstuvwxyz"
	"23456789"
	"-_.,+";

int
passwd_generate(char *out, size_t outsz, size_t len)
{
	unsigned char	 rnd[64];
	size_t		 n = sizeof(gen_alphabet) - 1, i, r, limit;

	if (out == NULL || len < PASSWD_MIN_POLICY || len > PASSWD_MAX ||
	    outsz <= len)
		return -1;
	/* Bytes at or over limit would favour the first symbols. */
	limit = 256 - 256 % n;

	/*
	 * Draw whole passwords until one has every class: each password
	 * that passes is then equally likely (rejection, not patching).
	 */
	do {
		r = sizeof(rnd);
		for (i = 0; i < len; ) {
			if (r == sizeof(rnd)) {
				if (random_fill(rnd, sizeof(rnd)) == -1) {
					explicit_bzero(out, outsz);
					return -1;
				}
				r = 0;
			}
			if (rnd[r] < limit)
				out[i++] = gen_alphabet[rnd[r] % n];
			r++;
		}
		out[len] = '\0';
	} while (passwd_policy_check(out) != NULL);
	explicit_bzero(rnd, sizeof(rnd));
	return 0;
}

/*
 * Decode one UTF-8 sequence at s into *cp: its length, or 0 when it is
 * invalid (overlong, surrogate, over U+10FFFF, truncated).
 */
static size_t
utf8_decode(const unsigned char *s, unsigned long *cp)
{
	size_t		n, i;
	unsigned long	c, min;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	} else if ((s[0] & 0xe0) == 0xc0) {
		n = 2; c = s[0] & 0x1f; min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3; c = s[0] & 0x0f; min = 0x800;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4; c = s[0] & 0x07; min = 0x10000;
	} else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/*
 * The policy: at least PASSWD_MIN_POLICY characters (not bytes), an
 * upper-case and a lower-case ASCII letter, a digit, and a special
 * character (anything else printable: punctuation, a space, a non-ASCII
 * letter); valid UTF-8 without control characters, at most PASSWD_MAX
 * bytes.
 */
const char *
passwd_policy_check(const char *password)
{
	const unsigned char	*s;
	unsigned long		 c;
	size_t			 n, chars = 0;
	int			 upper = 0, lower = 0, digit = 0, special = 0;

	if (password == NULL)
		return "no password";
	if (strnlen(password, PASSWD_MAX + 1) > PASSWD_MAX)
		return "longer than 1024 bytes";
	for (s = (const unsigned char *)password; *s != '\0'; s += n) {
		if ((n = utf8_decode(s, &c)) == 0)
			return "not valid UTF-8";
		if (c < 0x20 || (c >= 0x7f && c <= 0x9f))
			return "contains a control character";
		if (c >= 'A' && c <= 'Z')
			upper = 1;
		else if (c >= 'a' && c <= 'z')
			lower = 1;
		else if (c >= '0' && c <= '9')
			digit = 1;
		else
			special = 1;
		chars++;
	}
	if (chars < PASSWD_MIN_POLICY)
		return "shorter than 16 characters";
	if (!upper)
		return "no upper-case letter";
	if (!lower)
		return "no lower-case letter";
	if (!digit)
		return "no digit";
	if (!special)
		return "no special character";
	return NULL;
}
