/*
 * The parent's key and certificate plumbing for a network engine
 * (engine_tls.h): no handshake runs with a certificate whose key is not
 * in the key process yet, and a reload that fails leaves the pair in
 * use alone.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <fcntl.h>
#include <unistd.h>

#include "channel.h"
#include "conf.h"
#include "engine_tls.h"
#include "imsg.h"
#include "log.h"
#include "pki.h"
#include "proto.h"

static void	engine_tls_send_cert(struct engine_tls *,
		    const struct conf_pki *);
static void	engine_tls_ready(struct engine_tls *);

static const struct channel_type keys_types[] = {
	{ IMSG_KEY_LOADED, 0 },
	{ 0, 0 }
};

static void
engine_tls_keys(struct channel *ch, struct imsg *imsg, union imsg_msg *m,
    void *arg)
{
	engine_tls_key_loaded(arg, &m->key_loaded);
}

void
engine_tls_attach(struct engine_tls *et, int fd, const char *us,
    void (*down)(struct channel *, void *))
{
	struct channel_cbs	 cbs = { .dispatch = engine_tls_keys,
	    .down = down };

	channel_init(et->keys, "key process", us, keys_types, &cbs, et);
	channel_attach(et->keys, fd);
}

int
engine_tls_check(const struct engine_tls *et)
{
	struct conf_pki	*pki;
	int		 rv = 0;

	TAILQ_FOREACH(pki, &et->conf->pkis, entry)
		if (pki_check_apart(pki) == -1)
			rv = -1;
	return rv;
}

void
engine_tls_load(struct engine_tls *et, int start)
{
	struct conf_pki		*pki;
	struct msg_key_load	 m;
	int			 fd;

	TAILQ_FOREACH(pki, &et->conf->pkis, entry) {
		if (!start && pki_check_apart(pki) == -1) {
			log_warnx("pki %s: new certificate refused, the "
			    "previous one stays in use", pki->name);
			continue;
		}
		if ((fd = open(pki->key, O_RDONLY | O_CLOEXEC)) == -1) {
			if (start)
				fatal("pki %s: %s", pki->name, pki->key);
			log_warn("pki %s: %s", pki->name, pki->key);
			continue;
		}
		m.pki = pki->name;
		if (channel_send(et->keys, msg_key_load_pack(&m, fd)) == -1)
			fatalx("cannot queue KEY_LOAD");
		if (start)
			et->pending++;
	}
	if (start && et->pending == 0)
		engine_tls_ready(et);
}

void
engine_tls_key_loaded(struct engine_tls *et, const struct msg_key_loaded *m)
{
	struct conf_pki	*pki;

	if ((pki = conf_pki_find(et->conf, m->pki)) == NULL)
		fatalx("KEY_LOADED for unknown pki %s", m->pki);
	if (m->refused) {
		if (!et->ready_sent)
			fatalx("pki %s: the key process refused the key %s",
			    m->pki, pki->key);
		log_warnx("pki %s: new certificate refused (the key process "
		    "refused the key), the previous one stays in use",
		    m->pki);
	} else
		engine_tls_send_cert(et, pki);
	if (et->pending > 0)
		et->pending--;
	engine_tls_ready(et);
}

/* The certificate chain, as an open file: any size goes through. */
static void
engine_tls_send_cert(struct engine_tls *et, const struct conf_pki *pki)
{
	int	 fd;

	if ((fd = open(pki->cert, O_RDONLY | O_CLOEXEC)) == -1) {
		log_warn("pki %s: %s", pki->name, pki->cert);
		return;
	}
	if (et->send_cert(pki, fd) == -1)
		fatalx("cannot queue TLS_CONFIG");
	if (et->ready_sent)
		log_info("pki %s: new certificate and key loaded", pki->name);
}

/* READY once, after the last certificate of the start. */
static void
engine_tls_ready(struct engine_tls *et)
{
	if (et->ready_sent || et->pending > 0)
		return;
	if (et->send_ready() == -1)
		fatalx("cannot queue READY");
	et->ready_sent = 1;
}
