/*
 * libtls server contexts of a network engine (the smtp engine, the imap
 * login process), one per pki, built from the
 * certificate chain the parent sends and libtls' "fake" private key (the
 * certificate's public key): every private-key operation goes to the key
 * process (keyop.h).  Listeners with their own cipher list get a context
 * of their own for the same pki.  A reload builds new contexts for new
 * sessions; the old ones live on, reference-counted, until the last
 * session using them ends, so a SIGHUP never drops a session in progress.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <stdlib.h>
#include <string.h>
#include <tls.h>
#include <unistd.h>

#include "conf.h"
#include "fileio.h"
#include "keyop.h"
#include "log.h"
#include "pki.h"
#include "tls_ctx.h"

static struct tls_ctx_list tls_ctxs = TAILQ_HEAD_INITIALIZER(tls_ctxs);
static const struct conf_listen_list *const *tls_lists;
static size_t		 tls_nlists;
static const char	*tls_default_ciphers;

static struct tls	*tls_ctx_build(const char *, const char *, const void *,
			    size_t);
static const char	*tls_ciphers_of(const struct conf_listen *);
static void		 tls_ctx_free(struct tls_ctx *);

void
tls_ctx_init(const struct conf_listen_list *const *lists, size_t nlists,
    const char *ciphers)
{
	tls_lists = lists;
	tls_nlists = nlists;
	tls_default_ciphers = ciphers;
}

static struct tls *
tls_ctx_build(const char *name, const char *ciphers, const void *cert,
    size_t certlen)
{
	struct tls_config	*cfg;
	struct tls		*tls = NULL;

	if ((cfg = tls_config_new()) == NULL) {
		log_warnx("pki %s: tls_config_new failed", name);
		return NULL;
	}
	if (tls_config_set_protocols(cfg,
	    TLS_PROTOCOL_TLSv1_2 | TLS_PROTOCOL_TLSv1_3) == -1 ||
	    tls_config_set_ciphers(cfg, ciphers) == -1 ||
	    tls_config_use_fake_private_key(cfg) == -1 ||
	    tls_config_set_keypair_mem(cfg, cert, certlen, NULL, 0) == -1) {
		log_warnx("pki %s: %s", name, tls_config_error(cfg));
		goto done;
	}
	if ((tls = tls_server()) == NULL) {
		log_warnx("pki %s: tls_server failed", name);
		goto done;
	}
	if (tls_configure(tls, cfg) == -1) {
		log_warnx("pki %s: %s", name, tls_error(tls));
		tls_free(tls);
		tls = NULL;
	}
 done:
	tls_config_free(cfg);
	return tls;
}

static const char *
tls_ciphers_of(const struct conf_listen *cl)
{
	return cl->ciphers[0] != '\0' ? cl->ciphers : tls_default_ciphers;
}

/* The new context of pki name for a cipher list, if built already. */
static struct tls_ctx *
tls_ctx_find(struct tls_ctx_list *list, const char *name,
    const char *ciphers)
{
	struct tls_ctx	*c;

	TAILQ_FOREACH(c, list, entry)
		if (strcmp(c->name, name) == 0 &&
		    strcmp(c->ciphers, ciphers) == 0)
			return c;
	return NULL;
}

/*
 * A new certificate for pki name: one context per cipher list of the
 * listeners using it.  0, or -1 and the old contexts stay.
 */
int
tls_ctx_load(const char *name, const void *cert, size_t certlen)
{
	struct tls_ctx_list fresh = TAILQ_HEAD_INITIALIZER(fresh);
	struct tls_ctx	*c, *old, *next;
	struct conf_listen	*cl;
	const char		*ciphers;
	size_t			 i;

	for (i = 0; i < tls_nlists; i++) {
		TAILQ_FOREACH(cl, tls_lists[i], entry) {
			ciphers = tls_ciphers_of(cl);
			if (strcmp(cl->pki, name) != 0 ||
			    tls_ctx_find(&fresh, name, ciphers) != NULL)
				continue;
			if ((c = calloc(1, sizeof(*c))) == NULL) {
				log_warn("tls: calloc");
				goto fail;
			}
			strlcpy(c->name, name, sizeof(c->name));
			strlcpy(c->ciphers, ciphers, sizeof(c->ciphers));
			c->current = 1;
			TAILQ_INSERT_TAIL(&fresh, c, entry);
			if ((c->tls = tls_ctx_build(name, ciphers, cert,
			    certlen)) == NULL)
				goto fail;
		}
	}

	while ((c = TAILQ_FIRST(&fresh)) != NULL) {
		TAILQ_REMOVE(&fresh, c, entry);
		TAILQ_FOREACH_SAFE(old, &tls_ctxs, entry, next) {
			if (!old->current || strcmp(old->name, name) != 0 ||
			    strcmp(old->ciphers, c->ciphers) != 0)
				continue;
			old->current = 0;
			if (old->refcnt == 0)
				tls_ctx_free(old);
		}
		TAILQ_INSERT_TAIL(&tls_ctxs, c, entry);
	}
	log_debug("pki %s: certificate loaded", name);
	return 0;
 fail:
	while ((c = TAILQ_FIRST(&fresh)) != NULL) {
		TAILQ_REMOVE(&fresh, c, entry);
		tls_free(c->tls);
		free(c);
	}
	return -1;
}

/*
 * The engine's half of a certificate reload (engine_tls.h): the chain
 * as an open file from the parent, closed here.  A chain that cannot be
 * read or built is logged and the old contexts stay.
 */
void
tls_ctx_load_fd(const char *name, int fd)
{
	char	*cert;
	size_t	 certlen;

	if (fileio_read_fd(fd, PKI_CHAIN_MAX, &cert, &certlen) == -1) {
		log_warn("pki %s: reading the certificate", name);
		cert = NULL;
	}
	close(fd);
	if (cert == NULL || tls_ctx_load(name, cert, certlen) == -1)
		log_warnx("pki %s: new certificate refused, the previous "
		    "one stays in use", name);
	else
		log_info("pki %s: certificate loaded", name);
	free(cert);
}

static void
tls_ctx_free(struct tls_ctx *c)
{
	TAILQ_REMOVE(&tls_ctxs, c, entry);
	tls_free(c->tls);
	free(c);
}

/* The current context of a listener, held until tls_ctx_put(). */
struct tls_ctx *
tls_ctx_get(const struct conf_listen *cl)
{
	struct tls_ctx	*c;
	const char		*ciphers = tls_ciphers_of(cl);

	TAILQ_FOREACH(c, &tls_ctxs, entry) {
		if (c->current && strcmp(c->name, cl->pki) == 0 &&
		    strcmp(c->ciphers, ciphers) == 0) {
			c->refcnt++;
			return c;
		}
	}
	return NULL;
}

void
tls_ctx_put(struct tls_ctx *c)
{
	if (c == NULL)
		return;
	if (--c->refcnt == 0 && !c->current)
		tls_ctx_free(c);
}
