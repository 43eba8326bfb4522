/*
 * fuzz_passwd: libFuzzer target for passwd_verify() in lib/passwd.c.
 * The input is "stored\npassword": a stored hash from a table nobody
 * checked and any password.  The answer must be one of the four
 * documented answers, and nothing may crash.  fuzz_passwd.dict holds the
 * scheme tags and hash prefixes that steer it into each scheme; a few
 * hashes from regress/unit/test_passwd.c make a good local seed corpus
 * (corpus_* directories are not committed).
 *
 * The DoS caps are lowered for speed (a 1 GiB Argon2 run per input
 * would stall the fuzzer); the code paths are the same.  Build and run
 * from the top of the tree:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=gnu11 \
 *       -D_GNU_SOURCE -Ilib -DPASSWD_SHA_ROUNDS_MAX=20000 \
 *       -DPASSWD_BCRYPT_COST_MAX=6 -DPASSWD_YESCRYPT_COST_MAX=3 \
 *       -DPASSWD_ARGON2_M_MAX=4096 -DPASSWD_ARGON2_T_MAX=4 \
 *       -DPASSWD_ARGON2_P_MAX=4 -DPASSWD_ARGON2_WORK_MAX=8192 \
 *       -DPASSWD_PBKDF2_ROUNDS_MAX=20000 \
 *       -o regress/fuzz/fuzz_passwd regress/fuzz/fuzz_passwd.c \
 *       lib/passwd.c lib/passwd_legacy.c -lcrypt -largon2 -lcrypto
 *   mkdir -p regress/fuzz/corpus_passwd
 *   ./regress/fuzz/fuzz_passwd -max_total_time=20 -timeout=10 \
 *       -dict=regress/fuzz/fuzz_passwd.dict regress/fuzz/corpus_passwd
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "passwd.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		 buf[4096];
	const char	*nl;
	size_t		 slen;
	int		 rv;

	if (size >= sizeof(buf))
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	if ((nl = memchr(buf, '\n', size)) == NULL)
		return 0;
	slen = nl - buf;
	buf[slen] = '\0';

	/* The counted form sees any NUL in the password. */
	rv = passwd_verifyn(buf, buf + slen + 1, size - slen - 1);
	if (rv != PASSWD_OK && rv != PASSWD_MISMATCH &&
	    rv != PASSWD_BADSCHEME && rv != PASSWD_TEMPFAIL)
		abort();
	rv = passwd_verify(buf, buf + slen + 1);
	if (rv != PASSWD_OK && rv != PASSWD_MISMATCH &&
	    rv != PASSWD_BADSCHEME && rv != PASSWD_TEMPFAIL)
		abort();
	return 0;
}
