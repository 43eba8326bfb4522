/*
 * libtls server contexts of the engine, one per pki, built from the
 * certificate chain the parent sends and libtls' "fake" private key (the
 * certificate's public key): every private-key operation goes to the key
 * process (keyop.h).  A reload builds a new context for new sessions; the
 * old one lives on, reference-counted, until the last session using it
 * ends, so a SIGHUP never drops a session in progress.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <stdlib.h>
#include <string.h>
#include <tls.h>

#include "conf.h"
#include "keyop.h"
#include "log.h"
#include "smtpd.h"

static TAILQ_HEAD(, smtp_tls_ctx) tls_ctxs = TAILQ_HEAD_INITIALIZER(tls_ctxs);

static struct tls	*tls_ctx_build(const char *, const void *, size_t);
static void		 tls_ctx_free(struct smtp_tls_ctx *);

static struct tls *
tls_ctx_build(const char *name, const void *cert, size_t certlen)
{
	struct tls_config	*cfg;
	struct tls		*tls = NULL;

	if ((cfg = tls_config_new()) == NULL) {
		log_warnx("pki %s: tls_config_new failed", name);
		return NULL;
	}
	if (tls_config_set_protocols(cfg,
	    TLS_PROTOCOL_TLSv1_2 | TLS_PROTOCOL_TLSv1_3) == -1 ||
	    tls_config_set_ciphers(cfg, smtpd_conf->tls_ciphers) == -1 ||
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

/* A new certificate for pki name: 0, or -1 and the old one stays. */
int
tls_ctx_load(const char *name, const void *cert, size_t certlen)
{
	struct smtp_tls_ctx	*c, *old, *next;
	struct tls		*tls;

	if ((tls = tls_ctx_build(name, cert, certlen)) == NULL)
		return -1;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("tls: calloc");
		tls_free(tls);
		return -1;
	}
	strlcpy(c->name, name, sizeof(c->name));
	c->tls = tls;
	c->current = 1;

	TAILQ_FOREACH_SAFE(old, &tls_ctxs, entry, next) {
		if (!old->current || strcmp(old->name, name) != 0)
			continue;
		old->current = 0;
		if (old->refcnt == 0)
			tls_ctx_free(old);
	}
	TAILQ_INSERT_TAIL(&tls_ctxs, c, entry);
	log_debug("pki %s: certificate loaded", name);
	return 0;
}

static void
tls_ctx_free(struct smtp_tls_ctx *c)
{
	TAILQ_REMOVE(&tls_ctxs, c, entry);
	tls_free(c->tls);
	free(c);
}

/* The current context of pki name, held until tls_ctx_put(). */
struct smtp_tls_ctx *
tls_ctx_get(const char *name)
{
	struct smtp_tls_ctx	*c;

	TAILQ_FOREACH(c, &tls_ctxs, entry) {
		if (c->current && strcmp(c->name, name) == 0) {
			c->refcnt++;
			return c;
		}
	}
	return NULL;
}

void
tls_ctx_put(struct smtp_tls_ctx *c)
{
	if (c == NULL)
		return;
	if (--c->refcnt == 0 && !c->current)
		tls_ctx_free(c);
}
