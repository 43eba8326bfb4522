/*
 * The mta process of tsamba-queue: remote delivery.  Forked by the queue
 * parent, it loads what it cannot reach later (the resolver settings,
 * the CA certificates, the relay secret), drops to conf->user_mta in
 * the empty chroot and then serves the queue process over one socketpair:
 * IMSG_MTA_TRANSFER in, one IMSG_MTA_RCPT_RESULT per recipient that got
 * its own answer and one IMSG_MTA_DONE out.  Transfers wait for a
 * connection slot (mta max-connections, overall and per domain).
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/stat.h>

#include <errno.h>
#include <event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tls.h>
#include <unistd.h>

#include "channel.h"
#include "conf.h"
#include "daemon.h"
#include "imsg.h"
#include "log.h"
#include "mta.h"
#include "privdrop.h"

#define MTA_CA_FILE		"/etc/ssl/certs/ca-certificates.crt"
#define MTA_SECRET_MAX		1024

struct conf			*mta_conf;
static struct channel		 queue_ch;
static struct tls_config	*tls_opportunistic;
static struct tls_config	*tls_verify;
static char			 relay_user[MTA_SECRET_MAX];
static char			 relay_password[MTA_SECRET_MAX];
static int			 relay_has_secret;

/* Transfers waiting for a connection slot, and those under way. */
static struct mta_transfer_list	 waiting = TAILQ_HEAD_INITIALIZER(waiting);
static struct mta_transfer_list	 running = TAILQ_HEAD_INITIALIZER(running);
static unsigned int		 nrunning;

static void	mta_dispatch(struct channel *, struct imsg *,
		    union imsg_msg *, void *);
static void	mta_queue_down(struct channel *, void *);

static const struct channel_type queue_types[] = {
	{ IMSG_MTA_TRANSFER, 0 },
	{ 0, 0 }
};
static const struct channel_cbs queue_cbs = {
	.dispatch = mta_dispatch,
	.down = mta_queue_down,
};
static void	mta_start_waiting(void);

struct tls_config *
mta_tls_config(int verify)
{
	return verify ? tls_verify : tls_opportunistic;
}

const char *
mta_relay_user(void)
{
	return relay_has_secret ? relay_user : NULL;
}

const char *
mta_relay_password(void)
{
	return relay_has_secret ? relay_password : NULL;
}

/*
 * Two client settings: opportunistic STARTTLS takes any certificate and
 * any protocol version (some TLS beats none), the "tls verify" policy
 * wants a certificate valid for the MX name from the system CA bundle,
 * which is read here because the chroot has no /etc/ssl.  Both offer
 * only the "tls ciphers" suites (forward-secret AEAD by default), as
 * the listeners do.
 */
static void
mta_tls_init(void)
{
	uint8_t		*ca;
	size_t		 calen;
	const char	*cafile;

	if ((tls_opportunistic = tls_config_new()) == NULL ||
	    (tls_verify = tls_config_new()) == NULL)
		fatalx("tls_config_new");
	tls_config_insecure_noverifycert(tls_opportunistic);
	tls_config_insecure_noverifyname(tls_opportunistic);
	if (tls_config_set_protocols(tls_opportunistic, TLS_PROTOCOLS_ALL) ==
	    -1 || tls_config_set_ciphers(tls_opportunistic,
	    mta_conf->tls_ciphers) == -1)
		fatalx("tls config: %s", tls_config_error(tls_opportunistic));
	if (tls_config_set_ciphers(tls_verify, mta_conf->tls_ciphers) == -1)
		fatalx("tls config: %s", tls_config_error(tls_verify));

	cafile = tls_default_ca_cert_file();
	if (cafile == NULL || access(cafile, R_OK) == -1)
		cafile = MTA_CA_FILE;
	if ((ca = tls_load_file(cafile, &calen, NULL)) == NULL) {
		/* Verified domains then always fail: the mail stays queued. */
		log_warn("%s: CA certificates", cafile);
		return;
	}
	if (tls_config_set_ca_mem(tls_verify, ca, calen) == -1)
		log_warnx("%s: %s", cafile, tls_config_error(tls_verify));
	tls_unload_file(ca, calen);
}

/* The relay secret: one line "user:password". */
static void
mta_read_secret(const char *path)
{
	char		 line[2 * MTA_SECRET_MAX];
	char		*colon;
	FILE		*fp;
	size_t		 len;

	if ((fp = fopen(path, "r")) == NULL)
		fatal("relay auth %s", path);
	if (fgets(line, sizeof(line), fp) == NULL)
		fatalx("relay auth %s: empty", path);
	fclose(fp);
	len = strcspn(line, "\r\n");
	line[len] = '\0';
	if ((colon = strchr(line, ':')) == NULL || colon == line)
		fatalx("relay auth %s: expected one line user:password", path);
	*colon++ = '\0';
	if (strlcpy(relay_user, line, sizeof(relay_user)) >=
	    sizeof(relay_user) || strlcpy(relay_password, colon,
	    sizeof(relay_password)) >= sizeof(relay_password))
		fatalx("relay auth %s: too long", path);
	explicit_bzero(line, sizeof(line));
	relay_has_secret = 1;
}

static void
mta_sig(int sig, short ev, void *arg)
{
	/* Unfinished transfers stay pending in the queue: nothing to save. */
	log_info("exiting on signal %d", sig);
	exit(0);
}

void
mta_main(struct conf *conf, int fd)
{
	static const int sigs[] = { SIGTERM, SIGINT };
	struct event	 ev_sigs[2];

	mta_conf = conf;
	log_procname("mta");
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);

	/* Everything that needs a file outside the chroot, first. */
	mta_tls_init();
	if (conf->relay.host[0] != '\0' && conf->relay.secret[0] != '\0')
		mta_read_secret(conf->relay.secret);
	mta_dns_init(conf);
	priv_drop(conf->user_mta, conf->chroot, "mta");

	event_init();
	daemon_signals(ev_sigs, sigs, 2, mta_sig);
	mta_dns_start();

	channel_init(&queue_ch, "queue process", "mta", queue_types,
	    &queue_cbs, NULL);
	channel_attach(&queue_ch, fd);
	event_dispatch();
	fatalx("mta event loop ended");
}

static int
domain_in_list(const struct conf_domain_list *list, const char *domain)
{
	const struct conf_domain	*d;

	TAILQ_FOREACH(d, list, entry)
		if (strcasecmp(d->name, domain) == 0)
			return 1;
	return 0;
}

static void
transfer_free(struct mta_transfer *t)
{
	if (t->fd != -1)
		close(t->fd);
	free(t->rcpts);
	free(t->prefix);
	free(t);
}

/*
 * IMSG_MTA_TRANSFER, well formed (the channel checked); one that makes
 * no sense stops the process (fail-stop).
 */
static struct mta_transfer *
transfer_parse(struct imsg *imsg, struct msg_mta_transfer *m)
{
	struct mta_transfer	*t;
	struct rec_transfer_rcpt e;
	struct stat		 st;
	size_t			 i;

	if (m->rcpts.n == 0 || m->domain[0] == '\0' || m->body > 2)
		fatalx("malformed TRANSFER from the queue process");
	if (imsg->fd == -1)
		fatalx("TRANSFER without a message file");
	if ((t = calloc(1, sizeof(*t))) == NULL)
		fatal("calloc");
	t->fd = imsg->fd;
	imsg->fd = -1;
	t->id = m->id;
	strlcpy(t->msgid, m->msgid, sizeof(t->msgid));
	strlcpy(t->sender, m->sender, sizeof(t->sender));
	strlcpy(t->domain, m->domain, sizeof(t->domain));
	t->body = m->body;
	t->smtputf8 = m->smtputf8;
	if ((t->rcpts = calloc(m->rcpts.n, sizeof(*t->rcpts))) == NULL)
		fatal("calloc");
	t->nrcpts = m->rcpts.n;
	for (i = 0; rec_transfer_rcpt_next(imsg, &m->rcpts, &e) == 0; i++) {
		if (e.rcpt[0] == '\0')
			fatalx("malformed TRANSFER recipient");
		strlcpy(t->rcpts[i].addr, e.rcpt, sizeof(t->rcpts[i].addr));
	}
	if ((t->prefix = strdup(m->prefix)) == NULL)
		fatal("strdup");
	t->prefixlen = strlen(m->prefix);
	if (fstat(t->fd, &st) == -1)
		fatal("fstat message %s", t->msgid);
	t->size = st.st_size + (off_t)t->prefixlen;
	t->relay = mta_conf->relay.host[0] != '\0';
	t->tls_verify = domain_in_list(&mta_conf->mta_tls_verify,
	    t->relay ? mta_conf->relay.host : t->domain);
	return t;
}

static unsigned int
running_for(const char *domain)
{
	struct mta_transfer	*t;
	unsigned int		 n = 0;

	TAILQ_FOREACH(t, &running, entry)
		if (strcasecmp(t->domain, domain) == 0)
			n++;
	return n;
}

/* Start what the connection limits allow, oldest first. */
static void
mta_start_waiting(void)
{
	struct mta_transfer	*t, *next;
	unsigned int		 max = mta_conf->mta_max_conns;
	unsigned int		 maxdom = mta_conf->mta_max_conns_domain;

	for (t = TAILQ_FIRST(&waiting); t != NULL; t = next) {
		next = TAILQ_NEXT(t, entry);
		if (max && nrunning >= max)
			return;
		/* Through a relay host every transfer goes to one place. */
		if (maxdom && running_for(t->domain) >= maxdom)
			continue;
		TAILQ_REMOVE(&waiting, t, entry);
		TAILQ_INSERT_TAIL(&running, t, entry);
		nrunning++;
		t->started = 1;
		log_debug("%s: transfer %llu to %s, %zu recipients, %lld "
		    "bytes", t->msgid, (unsigned long long)t->id, t->domain,
		    t->nrcpts, (long long)t->size);
		mta_dns_lookup(t);
	}
}

static void
mta_dispatch(struct channel *ch, struct imsg *imsg, union imsg_msg *m,
    void *arg)
{
	struct mta_transfer	*t;

	t = transfer_parse(imsg, &m->mta_transfer);
	TAILQ_INSERT_TAIL(&waiting, t, entry);
	mta_start_waiting();
}

/* Gone, or broke the protocol: fail-stop. */
static void
mta_queue_down(struct channel *ch, void *arg)
{
	fatalx("queue process gone");
}

static const char *
status_name(enum mta_status status)
{
	switch (status) {
	case MTA_OK:
		return "sent";
	case MTA_TEMPFAIL:
		return "deferred";
	default:
		return "bounced";
	}
}

static void
log_result(struct mta_transfer *t, size_t idx, enum mta_status status,
    const char *reply, const char *relay, const char *tls)
{
	log_info("%s: to=<%s> relay=%s tls=%s status=%s reply=%s", t->msgid,
	    t->rcpts[idx].addr, relay && relay[0] ? relay : "none",
	    tls && tls[0] ? tls : "none", status_name(status), reply);
}

void
mta_rcpt_result(struct mta_transfer *t, size_t idx, enum mta_status status,
    const char *reply, const char *relay, const char *tls)
{
	struct msg_mta_rcpt_result	 m = { .id = t->id, .index = idx,
	    .status = status, .reply = reply, .relay = relay };

	if (idx >= t->nrcpts || t->rcpts[idx].done)
		return;
	t->rcpts[idx].done = 1;
	log_result(t, idx, status, reply, relay, tls);
	if (channel_send(&queue_ch, msg_mta_rcpt_result_pack(&m, -1)) == -1)
		fatalx("cannot send RCPT_RESULT to the queue process");
}

void
mta_done(struct mta_transfer *t, enum mta_status status, const char *reply,
    const char *relay, const char *tls)
{
	struct msg_mta_done	 m = { .id = t->id, .status = status,
	    .reply = reply };
	size_t			 i;

	for (i = 0; i < t->nrcpts; i++)
		if (!t->rcpts[i].done)
			log_result(t, i, status, reply, relay, tls);
	if (channel_send(&queue_ch, msg_mta_done_pack(&m, -1)) == -1)
		fatalx("cannot send DONE to the queue process");
	if (t->dns != NULL)
		mta_dns_cancel(t);
	if (t->session != NULL)
		mta_session_cancel(t);
	if (t->started) {
		TAILQ_REMOVE(&running, t, entry);
		nrunning--;
	} else
		TAILQ_REMOVE(&waiting, t, entry);
	transfer_free(t);
	mta_start_waiting();
}

/* The DNS answer for a transfer: connect, or fail every recipient. */
void
mta_routes_ready(struct mta_transfer *t, enum mta_status status,
    const char *reply)
{
	if (status != MTA_OK) {
		mta_done(t, status, reply, "", "");
		return;
	}
	t->route = 0;
	mta_session_start(t);
}
