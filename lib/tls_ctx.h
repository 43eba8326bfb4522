/*
 * Reference-counted libtls server contexts built from a certificate
 * chain only (tls_ctx.c); the private key stays in the key process
 * (keyop.h).
 */

#ifndef TSAMBA_TLS_CTX_H
#define TSAMBA_TLS_CTX_H

#include <sys/queue.h>

#include <stddef.h>

#include "conf.h"

struct tls;

struct tls_ctx {
	TAILQ_ENTRY(tls_ctx)	 entry;
	char			 name[64];
	char			 ciphers[CONF_CIPHERS_MAX];	/* TLS 1.2 */
	struct tls		*tls;
	int			 refcnt;
	int			 current;	/* handed to new sessions */
};
TAILQ_HEAD(tls_ctx_list, tls_ctx);

/*
 * Before the first load: the listeners contexts are built for (each
 * pki and cipher list they use) and the cipher list of a listener that
 * names none.  The pointers are kept.
 */
void		 tls_ctx_init(const struct conf_listen_list *const *, size_t,
		    const char *ciphers);
/* A new context from a PEM certificate chain: 0, or -1 (logged). */
int		 tls_ctx_load(const char *name, const void *, size_t);
/* tls_ctx_load() of the chain read from fd (closed); logged. */
void		 tls_ctx_load_fd(const char *name, int fd);
/* The current context of a listener, held until tls_ctx_put(). */
struct tls_ctx	*tls_ctx_get(const struct conf_listen *);
void		 tls_ctx_put(struct tls_ctx *);

#endif
