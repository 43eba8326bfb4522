/*
 * Inside lib/passwd*.c: the digest-based schemes Dovecot still verifies
 * ({SHA512}, {SSHA512}, {PLAIN-MD5}, {PBKDF2}, {SCRAM-SHA-256}, ...) live
 * in passwd_legacy.c; passwd.c names the schemes and dispatches.
 */

#ifndef TSAMBA_PASSWD_PRIV_H
#define TSAMBA_PASSWD_PRIV_H

#include <stddef.h>

/* DoS caps for the iterated legacy schemes; see passwd.c. */
#ifndef PASSWD_PBKDF2_ROUNDS_MAX
#define PASSWD_PBKDF2_ROUNDS_MAX	1000000	/* Dovecot writes 5000 */
#endif

enum pw_md {
	PW_MD5,
	PW_SHA1,
	PW_SHA256,
	PW_SHA512
};

/* How the bytes of a hash are written: Dovecot's ".B64"/".HEX" suffix. */
enum pw_enc {
	PW_ENC_NONE,		/* as is (PLAIN) */
	PW_ENC_B64,
	PW_ENC_HEX,
	PW_ENC_GUESS		/* hex if twice the digest length, else b64 */
};

/* Longest decoded hash, salt included. */
#define PW_RAW_MAX	1024

int	pw_ct_equal(const void *, const void *, size_t);
/* At most 10 decimal digits, at most max: 0 and *sp past them, or -1. */
int	pw_parse_uint(const char **sp, unsigned long max, unsigned long *);
/* text in enc into out: the length, or -1 if malformed or too long. */
int	pw_decode(enum pw_enc, const char *text, unsigned char *out,
	    size_t outsz);
/* {SHA256} and friends: digest(password), or with salted
   digest(password || salt) followed by the salt. */
int	pw_verify_digest(enum pw_md, int salted, enum pw_enc,
	    const char *hash, const char *password, size_t len);
/* {PBKDF2}$1$salt$rounds$hexkey: PBKDF2-HMAC-SHA1. */
int	pw_verify_pbkdf2(const char *hash, const char *password, size_t len);
/* {SCRAM-SHA-1}/{SCRAM-SHA-256} iter,salt,storedkey,serverkey. */
int	pw_verify_scram(enum pw_md, const char *hash, const char *password,
	    size_t len);

#endif
