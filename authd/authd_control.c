/*
 * authd.control.sock: tsambactl lists, adds and removes bans here.  The
 * socket is mode 0600 and SO_PEERCRED admits only root and authd's own
 * uid.  Requests: CTL_BAN_LIST (answered by one CTL_BAN_ENTRY per ban,
 * then CTL_DONE), CTL_BAN_ADD and CTL_BAN_DEL (answered by CTL_DONE).
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "log.h"
#include "imsg.h"
#include "unixsock.h"
#include "authd.h"

#define CONTROL_CLIENTS_MAX	16

struct ctl {
	TAILQ_ENTRY(ctl)	 entry;
	struct channel		 ch;
	uid_t			 uid;
	int			 dead;
};

static const struct channel_type ctl_types[] = {
	{ IMSG_CTL_BAN_LIST, 0 },
	{ IMSG_CTL_BAN_ADD, 0 },
	{ IMSG_CTL_BAN_DEL, 0 },
	{ 0, 0 }
};

static TAILQ_HEAD(, ctl)	 ctls = TAILQ_HEAD_INITIALIZER(ctls);
static size_t			 nctls;
static int			 ctl_fd = -1;
static struct channel_server	 ctl_server;
static char			 ctl_path[PATH_MAX];

static void
ctl_close(struct ctl *c)
{
	if (c->dead)
		return;
	c->dead = 1;
	channel_close(&c->ch);
	TAILQ_REMOVE(&ctls, c, entry);
	nctls--;
	channel_free_later(c);
}

static void
ctl_send(struct ctl *c, struct ibuf *b)
{
	if (b == NULL)
		fatal("%s", __func__);
	if (channel_send(&c->ch, b) == -1)
		ctl_close(c);
}

static void
ctl_done(struct ctl *c, uint64_t id, int failed, const char *msg)
{
	struct msg_ctl_done	 m = { .id = id, .failed = failed ? 1 : 0,
	    .message = msg };

	ctl_send(c, msg_ctl_done_pack(&m, -1));
}

struct list_arg {
	struct ctl	*c;
	uint64_t	 id;
};

static int
ctl_entry(const struct ban_entry *e, void *arg)
{
	struct list_arg		*la = arg;
	struct msg_ctl_ban_entry m = { .id = la->id, .ip = e->ip,
	    .end = (uint64_t)e->end, .failures = e->failures };

	if (la->c->dead)
		return -1;
	ctl_send(la->c, msg_ctl_ban_entry_pack(&m, -1));
	return 0;
}

static void
ctl_request(struct channel *ch, struct imsg *imsg, union imsg_msg *m,
    void *arg)
{
	struct ctl	*c = arg;
	struct list_arg	 la;
	char		 err[CONF_HOST_MAX + 64];
	uint64_t	 secs;
	int		 rv;

	if (c->dead)
		return;
	err[0] = '\0';
	switch (imsg->hdr.type) {
	case IMSG_CTL_BAN_LIST:
		la.c = c;
		la.id = m->ctl_ban_list.id;
		ban_walk(ctl_entry, &la);
		if (!c->dead)
			ctl_done(c, la.id, 0, "");
		break;
	case IMSG_CTL_BAN_ADD:
		secs = m->ctl_ban_add.seconds;
		rv = ban_add(m->ctl_ban_add.net, secs > INT32_MAX ? INT32_MAX :
		    (time_t)secs, err, sizeof(err));
		ctl_done(c, m->ctl_ban_add.id, rv == -1, err);
		break;
	case IMSG_CTL_BAN_DEL:
		rv = ban_del(m->ctl_ban_del.net, err, sizeof(err));
		ctl_done(c, m->ctl_ban_del.id, rv == -1, err);
		break;
	}
}

static void
ctl_down(struct channel *ch, void *arg)
{
	ctl_close(arg);
}

static const struct channel_cbs ctl_cbs = {
	.dispatch = ctl_request,
	.down = ctl_down,
};

static void
ctl_accepted(struct channel_server *srv, int fd, const struct ucred *cred,
    void *arg)
{
	struct ctl	*c;
	struct ucred	 checked;

	if (unixsock_peer_check(fd, NULL, 0, "control", "control authd",
	    &checked) == -1) {
		close(fd);
		return;
	}
	if (nctls >= CONTROL_CLIENTS_MAX || (c = calloc(1, sizeof(*c))) ==
	    NULL) {
		log_warnx("control: too many connections");
		close(fd);
		return;
	}
	c->uid = cred->uid;
	TAILQ_INSERT_TAIL(&ctls, c, entry);
	nctls++;
	channel_init(&c->ch, "control", "authd control", ctl_types, &ctl_cbs,
	    c);
	channel_attach(&c->ch, fd);
}

/* As root before the drop, like auth.sock, but mode 0600. */
void
control_listen(const struct conf *conf)
{
	conf_sockpath(conf, "authd.control.sock", ctl_path,
	    sizeof(ctl_path));
	ctl_fd = unixsock_listen(ctl_path, 0600, 8,
	    SOCK_NONBLOCK | SOCK_CLOEXEC);
}

void
control_start(void)
{
	channel_server_init(&ctl_server, ctl_fd, "control", ctl_accepted,
	    NULL);
}

void
control_shutdown(void)
{
	struct ctl	*c;

	channel_server_close(&ctl_server);
	(void)unlink(ctl_path);
	while ((c = TAILQ_FIRST(&ctls)) != NULL) {
		TAILQ_REMOVE(&ctls, c, entry);
		channel_close(&c->ch);
		free(c);
	}
}
