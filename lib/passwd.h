/*
 * Password hashes as Dovecot stores them ("{SCHEME}hash"), random
 * passwords and the password policy: shared by tsamba-authd (checks
 * logins) and tsambactl (writes hashes, makes passwords).
 *
 * Schemes verified (names case-insensitive):
 *   {SHA512-CRYPT}$6$...   {SHA256-CRYPT}$5$...
 *   {BLF-CRYPT}$2y$ / $2b$ / $2a$...
 *   {ARGON2ID}$argon2id$v=19$m=..,t=..,p=..$salt$hash
 *   {CRYPT}... and bare crypt(3) strings: $6$ $5$ $2y$ $2b$ $2a$ $y$
 *     (and a bare $argon2id$ string)
 *   {PLAIN}text: for tests and migration only; discouraged, the
 *     password is stored in clear.
 * Everything else (MD5-CRYPT, DES, {SHA}, ...) is PASSWD_BADSCHEME.
 *
 * Needs libcrypt (libxcrypt, Debian libcrypt-dev) and libargon2
 * (Debian libargon2-dev).  All functions are thread-safe.
 */

#ifndef TSAMBA_PASSWD_H
#define TSAMBA_PASSWD_H

#include <stddef.h>

#define PASSWD_OK		0	/* the password matches */
#define PASSWD_MISMATCH		1	/* wrong password (or refused) */
#define PASSWD_BADSCHEME	2	/* unknown scheme, malformed hash or
					   parameters over the DoS caps: a
					   configuration error to log */
#define PASSWD_TEMPFAIL		3	/* out of memory: try again later,
					   neither a mismatch nor a bad hash */

#define PASSWD_MAX		1024	/* longest password accepted, bytes */
#define PASSWD_MIN_POLICY	16	/* shortest the policy allows, chars */
#define PASSWD_HASH_MAX		512	/* enough for any hash passwd_hash()
					   writes, with its {SCHEME} */

/*
 * Check a password against a stored hash.  The final comparison takes a
 * time that does not depend on where the strings differ.  A password
 * longer than PASSWD_MAX is a mismatch without hashing.
 */
int		passwd_verify(const char *stored, const char *password);
/* The same for a counted password: one containing a NUL is a mismatch. */
int		passwd_verifyn(const char *stored, const char *password,
		    size_t len);

/*
 * Hash a password with fresh random salt into out as "{SCHEME}hash".
 * scheme: "SHA512-CRYPT" (also when NULL), "SHA256-CRYPT", "BLF-CRYPT"
 * or "ARGON2ID".  0 on success; -1 for an unknown scheme, a password
 * over PASSWD_MAX bytes, a too small out or a failure of the library.
 */
int		passwd_hash(const char *scheme, const char *password,
		    char *out, size_t outsz);

/*
 * Make a random password of len (>= PASSWD_MIN_POLICY) characters that
 * passes passwd_policy_check().  0 on success, -1 if len is too short
 * or out (which needs len + 1 bytes) too small.
 */
int		passwd_generate(char *out, size_t outsz, size_t len);

/* NULL if the password meets the policy, else the reason it does not. */
const char	*passwd_policy_check(const char *password);

#endif
