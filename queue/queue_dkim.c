/*
 * DKIM in the queue process: the signer (dkim_sign.c) is loaded as root
 * before the privilege drop, so the private keys end up in the memory
 * of the chrooted queue process only; neither the mta, which parses
 * network input, nor any file in the chroot holds them.
 *
 * A message is signed when it leaves for a remote server, was submitted
 * by an authenticated user (the envelope's auth) and its sender's
 * domain has a "dkim" entry.  The signature is computed once per
 * message and kept in memory for its other transfers and retries; after
 * a restart it is computed again from the unchanged message file.
 */

#include <sys/types.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "stats.h"
#include "queue.h"
#include "dkim_sign.h"

static struct dkim_signer	*signer;

void
dkim_init(void)
{
	if (TAILQ_EMPTY(&queue_conf->dkims))
		return;
	if ((signer = dkim_signer_load(queue_conf)) == NULL)
		fatalx("cannot load the DKIM keys");
}

static int
wants_signature(const struct msg *m)
{
	const struct conf_dkim	*k;
	const char		*at;

	if (signer == NULL || m->env.auth[0] == '\0' ||
	    (at = strrchr(m->env.sender, '@')) == NULL)
		return 0;
	TAILQ_FOREACH(k, &queue_conf->dkims, entry)
		if (strcasecmp(k->domain, at + 1) == 0)
			return 1;
	return 0;
}

/* For the stats: one error, or the signatures in the prefix made. */
static void
dkim_count(int rv, const char *prefix)
{
	const char	*p;
	int		 n = 0;

	if (rv < 0) {
		stats_inc(ST_DKIM_ERRORS, 0);
		return;
	}
	/* Header lines end in CRLF; a folded line starts with a blank. */
	for (p = prefix; rv > 0 && *p != '\0'; p += 2) {
		if (strncasecmp(p, "DKIM-Signature:", 15) == 0)
			n++;
		if ((p = strstr(p, "\r\n")) == NULL)
			break;
	}
	stats_add(ST_DKIM_SIGNED, 0, n);
}

int
dkim_prefix(struct msg *m, const char **prefix)
{
	char		 buf[DKIM_PREFIX_MAX], path[64];
	const char	*at;
	int		 fd, rv;

	*prefix = "";
	if (m->signed_) {
		if (m->prefix != NULL)
			*prefix = m->prefix;
		return 0;
	}
	if (!wants_signature(m)) {
		m->signed_ = 1;
		return 0;
	}
	at = strrchr(m->env.sender, '@');
	spool_msgpath("queue", m->env.id, path, sizeof(path));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		log_warn("%s: open", path);
		return -1;
	}
	buf[0] = '\0';
	rv = dkim_sign_message(signer, fd, at + 1, buf, sizeof(buf));
	close(fd);
	dkim_count(rv, buf);
	if (rv < 0)
		return -1;
	m->signed_ = 1;
	if (rv > 0 && buf[0] != '\0') {
		if ((m->prefix = strdup(buf)) == NULL)
			fatal("dkim_prefix");
		*prefix = m->prefix;
		log_debug("%s: DKIM signed for %s", m->env.id, at + 1);
	}
	return 0;
}

void
dkim_forget(struct msg *m)
{
	free(m->prefix);
	m->prefix = NULL;
	m->signed_ = 0;
}
