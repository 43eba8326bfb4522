/*
 * The public keys DKIM verification has parsed, kept by their bytes.
 */

#ifndef DKIM_KEYCACHE_H
#define DKIM_KEYCACHE_H

#include <stddef.h>

#include <openssl/evp.h>

#define DKIM_KEYCACHE_MAX	64	/* keys kept */

/* The key with these bytes and k=, still owned by the cache, or NULL. */
EVP_PKEY	*dkim_keycache_find(int, const unsigned char *, size_t);
/* Keep a parsed key: 0 and the cache owns it, or -1 and the caller. */
int		 dkim_keycache_add(int, const unsigned char *, size_t,
		    EVP_PKEY *);
/*
 * A cached RSA key's context, ready for EVP_PKEY_verify (PKCS#1 v1.5,
 * SHA-256), owned by the cache; NULL if pkey is not cached or it
 * cannot be set up.
 */
EVP_PKEY_CTX	*dkim_keycache_rsa_verifier(EVP_PKEY *);

#endif
