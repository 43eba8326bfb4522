/*
 * imapd.control.sock: tsambactl asks the parent who is connected and
 * kicks a user's sessions here.  The socket is mode 0600 and
 * SO_PEERCRED admits only root.  Requests: CTL_SESSION_LIST (one
 * CTL_SESSION_ENTRY per mail process, then CTL_DONE) and
 * CTL_SESSION_KICK (CTL_DONE saying how many sessions were told to go).
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "imsg.h"
#include "log.h"
#include "unixsock.h"
#include "imapd.h"

#define CONTROL_CLIENTS_MAX	16

struct imapd_ctl {
	TAILQ_ENTRY(imapd_ctl)	 entry;
	struct channel		 ch;
	int			 dead;
};

static const struct channel_type ctl_types[] = {
	{ IMSG_CTL_SESSION_LIST, 0 },
	{ IMSG_CTL_SESSION_KICK, 0 },
	{ 0, 0 }
};

static TAILQ_HEAD(, imapd_ctl)	 ctls = TAILQ_HEAD_INITIALIZER(ctls);
static size_t			 nctls;
static struct channel_server	 ctl_server;
static char			 ctl_path[PATH_MAX];

static void
ctl_close(struct imapd_ctl *c)
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
ctl_send(struct imapd_ctl *c, struct ibuf *b)
{
	if (b == NULL)
		fatal("%s", __func__);
	if (channel_send(&c->ch, b) == -1)
		ctl_close(c);
}

static void
ctl_done(struct imapd_ctl *c, uint64_t id, int failed, const char *msg)
{
	struct msg_ctl_done	 m = { .id = id, .failed = failed ? 1 : 0,
	    .message = msg };

	ctl_send(c, msg_ctl_done_pack(&m, -1));
}

struct list_arg {
	struct imapd_ctl	*c;
	uint64_t		 id;
};

static int
ctl_entry(const struct mail_proc_info *i, void *arg)
{
	struct list_arg			*la = arg;
	struct msg_ctl_session_entry	 m = { .id = la->id, .user = i->user,
	    .ip = i->ip, .proto = i->proto, .since = (uint64_t)i->since,
	    .pid = (uint32_t)i->pid };

	if (la->c->dead)
		return -1;
	ctl_send(la->c, msg_ctl_session_entry_pack(&m, -1));
	return 0;
}

static void
ctl_kick(struct imapd_ctl *c, struct msg_ctl_session_kick *m)
{
	char		 msg[64];
	unsigned int	 n;

	if (m->user[0] == '\0') {
		ctl_done(c, m->id, 1, "no user given");
		return;
	}
	n = mail_procs_kick(m->user);
	snprintf(msg, sizeof(msg), "%u session%s ended", n, n == 1 ? "" :
	    "s");
	ctl_done(c, m->id, 0, msg);
}

static void
ctl_request(struct channel *ch, struct imsg *imsg, union imsg_msg *m,
    void *arg)
{
	struct imapd_ctl	*c = arg;
	struct list_arg		 la;

	if (c->dead)
		return;
	switch (imsg->hdr.type) {
	case IMSG_CTL_SESSION_LIST:
		la.c = c;
		la.id = m->ctl_session_list.id;
		mail_procs_walk(ctl_entry, &la);
		if (!c->dead)
			ctl_done(c, la.id, 0, "");
		break;
	case IMSG_CTL_SESSION_KICK:
		ctl_kick(c, &m->ctl_session_kick);
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
	struct imapd_ctl	*c;
	struct ucred		 checked;

	if (unixsock_peer_check(fd, NULL, 0, "control", "control imapd",
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
	TAILQ_INSERT_TAIL(&ctls, c, entry);
	nctls++;
	channel_init(&c->ch, "control", "imapd control", ctl_types, &ctl_cbs,
	    c);
	channel_attach(&c->ch, fd);
}

/* In the parent's event loop, which stays root. */
void
imapd_control_listen(void)
{
	int	 fd;

	conf_sockpath(imapd_conf, "imapd.control.sock", ctl_path,
	    sizeof(ctl_path));
	fd = unixsock_listen(ctl_path, 0600, 8, SOCK_NONBLOCK | SOCK_CLOEXEC);
	channel_server_init(&ctl_server, fd, "control", ctl_accepted, NULL);
}

void
imapd_control_shutdown(void)
{
	struct imapd_ctl	*c;

	if (ctl_path[0] == '\0')
		return;
	channel_server_close(&ctl_server);
	(void)unlink(ctl_path);
	while ((c = TAILQ_FIRST(&ctls)) != NULL) {
		TAILQ_REMOVE(&ctls, c, entry);
		channel_close(&c->ch);
		free(c);
	}
}
