/*
 * Password hashes as Dovecot stores them ("{SCHEME}hash"), random
 * passwords and the password policy: shared by tsamba-authd (checks
 * logins) and tsambactl (writes hashes, makes passwords).
 *
 * Schemes verified (names case-insensitive), all those of Dovecot 2.3
 * that user tables still hold:
 *   {SHA512-CRYPT}$6$...   {SHA256-CRYPT}$5$...
 *   {BLF-CRYPT}$2y$ / $2b$ / $2a$...
 *   {ARGON2ID}$argon2id$...   {ARGON2I}$argon2i$...
 *   {MD5-CRYPT}$1$...   {DES-CRYPT}xxxxxxxxxxxxx
 *   {CRYPT}... and bare crypt(3) strings: $6$ $5$ $2y$ $2b$ $2a$ $y$
 *     $1$ and DES (and a bare $argon2id$ / $argon2i$ string)
 *   {SHA512} {SHA256} {SHA} {SHA1} {PLAIN-MD5} {LDAP-MD5} {MD5}: an
 *     unsalted digest, base64 or hex (told apart by length as Dovecot
 *     does); {MD5} is also an MD5-CRYPT hash
 *   {SSHA512} {SSHA256} {SSHA} {SMD5}: digest(password || salt) || salt
 *   {PBKDF2}$1$salt$rounds$hex   {SCRAM-SHA-1} {SCRAM-SHA-256}
 *   {PLAIN} {CLEAR} {CLEARTEXT}: the password in clear; discouraged.
 *   A ".B64"/".BASE64" or ".HEX" suffix on the tag ({SHA256.HEX})
 *     names the encoding, as in Dovecot.
 * Everything else (CRAM-MD5, DIGEST-MD5, PLAIN-MD4, ...: passwd.c says
 * why) is PASSWD_BADSCHEME.  Only the first five are written.
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

/* What passwd_strength() says of a stored hash. */
#define PASSWD_STRONG		0	/* a slow, salted scheme */
#define PASSWD_WEAK		1	/* verified, but fast to brute-force
					   or stored in clear */
#define PASSWD_UNUSABLE		2	/* unknown scheme or malformed: the
					   user cannot log in */

/*
 * How good a stored hash is; the name of its scheme (e.g. "SSHA512",
 * "MD5-CRYPT" for a {CRYPT}$1$ hash) goes to name when it is known.
 * Cheap: the slow schemes are judged by their settings, not hashed.
 */
int		passwd_strength(const char *stored, char *name, size_t namesz);

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
