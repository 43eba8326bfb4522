/*
 * A cache of the public keys that DKIM verification (dkim_verify.c)
 * has parsed, keyed by their bytes: the decoded p= of the key record
 * and its k=.
 *
 * Why: OpenSSL 3 builds a decoder context for every d2i_PUBKEY call,
 * which costs several times the RSA verification it serves, and a
 * server sees the same few keys of the big senders over and over.
 * Why by content and not by selector and domain: an entry can never be
 * stale, as a key that changes in the DNS has other bytes and misses;
 * the DNS answer itself is still asked for every message (the lookup
 * process caches it as its TTL allows), so a revoked key is seen at
 * once.  Bounded: DKIM_KEYCACHE_MAX keys, the least recently used one
 * is replaced.  The engine is one thread, so there is no lock.
 *
 * An RSA key also keeps its verification context, set up once for
 * PKCS#1 v1.5 over SHA-256: creating and initialising one fetches the
 * algorithm from the provider each time, and EVP_PKEY_verify(3) may be
 * called again on a context with the same parameters.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "dkim_keycache.h"

struct kc_entry {
	EVP_PKEY		*pkey;		/* NULL: a free slot */
	EVP_PKEY_CTX		*verify;	/* RSA: set up for PKCS#1 */
	int			 alg;
	uint32_t		 hash;
	size_t			 len;
	unsigned char		*der;
	unsigned long long	 used;		/* clock of the last find */
};

static struct kc_entry		 kc[DKIM_KEYCACHE_MAX];
static unsigned long long	 kc_clock;

/* FNV-1a: cheap, and a collision only costs a memcmp. */
static uint32_t
kc_hash(int alg, const unsigned char *p, size_t len)
{
	uint32_t	 h = 2166136261u ^ (uint32_t)alg;
	size_t		 i;

	for (i = 0; i < len; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

EVP_PKEY *
dkim_keycache_find(int alg, const unsigned char *p, size_t len)
{
	uint32_t	 h = kc_hash(alg, p, len);
	size_t		 i;

	for (i = 0; i < DKIM_KEYCACHE_MAX; i++) {
		if (kc[i].pkey == NULL || kc[i].hash != h ||
		    kc[i].alg != alg || kc[i].len != len ||
		    memcmp(kc[i].der, p, len) != 0)
			continue;
		kc[i].used = ++kc_clock;
		return kc[i].pkey;
	}
	return NULL;
}

int
dkim_keycache_add(int alg, const unsigned char *p, size_t len,
    EVP_PKEY *pkey)
{
	struct kc_entry	*e = &kc[0];
	unsigned char	*der;
	size_t		 i;

	for (i = 0; i < DKIM_KEYCACHE_MAX; i++) {
		if (kc[i].pkey == NULL) {
			e = &kc[i];
			break;
		}
		if (kc[i].used < e->used)
			e = &kc[i];
	}
	if ((der = malloc(len ? len : 1)) == NULL)
		return -1;
	memcpy(der, p, len);
	EVP_PKEY_CTX_free(e->verify);
	EVP_PKEY_free(e->pkey);
	free(e->der);
	e->verify = NULL;
	e->pkey = pkey;
	e->alg = alg;
	e->hash = kc_hash(alg, p, len);
	e->len = len;
	e->der = der;
	e->used = ++kc_clock;
	return 0;
}

EVP_PKEY_CTX *
dkim_keycache_rsa_verifier(EVP_PKEY *pkey)
{
	struct kc_entry	*e;
	EVP_PKEY_CTX	*ctx;
	size_t		 i;

	for (i = 0; i < DKIM_KEYCACHE_MAX; i++)
		if (kc[i].pkey == pkey)
			break;
	if (i == DKIM_KEYCACHE_MAX)
		return NULL;
	e = &kc[i];
	if (e->verify != NULL)
		return e->verify;
	if ((ctx = EVP_PKEY_CTX_new(pkey, NULL)) == NULL)
		return NULL;
	if (EVP_PKEY_verify_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) != 1) {
		EVP_PKEY_CTX_free(ctx);
		return NULL;
	}
	return e->verify = ctx;
}
