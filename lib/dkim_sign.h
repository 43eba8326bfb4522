/*
 * DKIM signing (RFC 6376, relaxed/relaxed) with rsa-sha256 and
 * ed25519-sha256 (RFC 8463).  tsamba-queue loads the keys named by the
 * "dkim" lines of tsamba.conf while still root, then signs each message
 * of a hosted domain before it leaves; "tsambactl dkim test" uses the
 * same code.  Needs libcrypto.
 */

#ifndef TSAMBA_DKIM_SIGN_H
#define TSAMBA_DKIM_SIGN_H

#include <stddef.h>

struct conf;
struct dkim_signer;

/*
 * Reads every key file of conf->dkims.  A key that cannot be read, is
 * not an RSA (>= 1024 bits) or Ed25519 PEM private key of the configured
 * algorithm, is readable by group or others or is owned by anybody but
 * root, conf->user_queue or the caller is a fatal error: call it at
 * start-up.  NULL when no key is configured (dkim_sign_message accepts
 * NULL and signs nothing).
 */
struct dkim_signer	*dkim_signer_load(struct conf *);
void			 dkim_signer_free(struct dkim_signer *);

/*
 * The DKIM-Signature header fields of the message in msgfd (read with
 * pread from offset 0; CRLF or LF line ends), one per key of domain,
 * written into prefix as header lines ending in CRLF and meant to go
 * before the message.  The number of bytes written; 0 when domain has
 * no key or the header block is too large to sign (logged), -1 on
 * errors (logged).
 */
int	 dkim_sign_message(struct dkim_signer *, int msgfd, const char *domain,
	    char *prefix, size_t prefixsz);

/* Room that is always enough for the prefix of two keys. */
#define DKIM_PREFIX_MAX		32768

#endif
