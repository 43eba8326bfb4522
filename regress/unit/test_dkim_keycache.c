/*
 * Unit tests for lib/dkim_keycache.c: a key is found by its bytes and
 * k= only, the least recently used of a full cache is the one replaced,
 * and a key that is found again is not.
 */

#include <string.h>

#include <openssl/evp.h>

#include "dkim_keycache.h"
#include "dkim_verify.h"
#include "unit.h"

/* An Ed25519 key of 32 bytes, all n but the first (i). */
static EVP_PKEY *
key(int i, unsigned char *raw)
{
	memset(raw, 0x55, 32);
	raw[0] = (unsigned char)i;
	raw[1] = (unsigned char)(i >> 8);
	return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, 32);
}

static void
test_by_content(void)
{
	unsigned char	 a[32], b[32];
	EVP_PKEY	*ka, *kb;

	ka = key(1000, a);
	CHECK(ka != NULL);
	CHECK(dkim_keycache_find(DKIM_ALG_ED25519_SHA256, a, 32) == NULL);
	CHECK(dkim_keycache_add(DKIM_ALG_ED25519_SHA256, a, 32, ka) == 0);
	CHECK(dkim_keycache_find(DKIM_ALG_ED25519_SHA256, a, 32) == ka);
	/* Other k=, other length, other bytes: not the same key. */
	CHECK(dkim_keycache_find(DKIM_ALG_RSA_SHA256, a, 32) == NULL);
	CHECK(dkim_keycache_find(DKIM_ALG_ED25519_SHA256, a, 31) == NULL);
	kb = key(1001, b);
	CHECK(dkim_keycache_find(DKIM_ALG_ED25519_SHA256, b, 32) == NULL);
	EVP_PKEY_free(kb);
}

static void
test_lru(void)
{
	unsigned char	 raw[32], first[32], second[32];
	EVP_PKEY	*k1, *k2;
	int		 i;

	k1 = key(1, first);
	k2 = key(2, second);
	CHECK(dkim_keycache_add(DKIM_ALG_ED25519_SHA256, first, 32, k1) == 0);
	CHECK(dkim_keycache_add(DKIM_ALG_ED25519_SHA256, second, 32, k2) == 0);
	/*
	 * One more than fills it (test_by_content left one key, the
	 * oldest): first is used all along, second never again.
	 */
	for (i = 3; i < 3 + DKIM_KEYCACHE_MAX - 1; i++) {
		CHECK(dkim_keycache_add(DKIM_ALG_ED25519_SHA256, raw, 32,
		    key(i, raw)) == 0);
		CHECK(dkim_keycache_find(DKIM_ALG_ED25519_SHA256, first,
		    32) == k1);
	}
	CHECK(dkim_keycache_find(DKIM_ALG_ED25519_SHA256, second, 32) == NULL);
	CHECK(dkim_keycache_find(DKIM_ALG_ED25519_SHA256, first, 32) == k1);
	/* The last one added is there. */
	(void)key(i - 1, raw);
	CHECK(dkim_keycache_find(DKIM_ALG_ED25519_SHA256, raw, 32) != NULL);
}

int
main(void)
{
	test_by_content();
	test_lru();
	return unit_done("test_dkim_keycache");
}
