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
#include "control.h"
#include "log.h"
#include "imsg.h"
#include "authd.h"

static const struct channel_type ctl_types[] = {
	{ IMSG_CTL_BAN_LIST, 0 },
	{ IMSG_CTL_BAN_ADD, 0 },
	{ IMSG_CTL_BAN_DEL, 0 },
	{ 0, 0 }
};

static void	 ctl_request(struct channel *, struct imsg *, union imsg_msg *,
		    void *);

static struct control	 ctl = { .us = "authd control",
	.task = "control authd", .types = ctl_types, .request = ctl_request };

struct list_arg {
	struct control_client	*c;
	uint64_t		 id;
};

static int
ctl_entry(const struct ban_entry *e, void *arg)
{
	struct list_arg		*la = arg;
	struct msg_ctl_ban_entry m = { .id = la->id, .ip = e->ip,
	    .end = (uint64_t)e->end, .failures = e->failures };

	if (la->c->dead)
		return -1;
	control_send(la->c, msg_ctl_ban_entry_pack(&m, -1));
	return 0;
}

static void
ctl_request(struct channel *ch, struct imsg *imsg, union imsg_msg *m,
    void *arg)
{
	struct control_client	*c = arg;
	struct list_arg		 la;
	char			 err[CONF_HOST_MAX + 64];
	uint64_t		 secs;
	int			 rv;

	if (c->dead)
		return;
	err[0] = '\0';
	switch (imsg->hdr.type) {
	case IMSG_CTL_BAN_LIST:
		la.c = c;
		la.id = m->ctl_ban_list.id;
		ban_walk(ctl_entry, &la);
		if (!c->dead)
			control_done(c, la.id, 0, "");
		break;
	case IMSG_CTL_BAN_ADD:
		secs = m->ctl_ban_add.seconds;
		rv = ban_add(m->ctl_ban_add.net, secs > INT32_MAX ? INT32_MAX :
		    (time_t)secs, err, sizeof(err));
		control_done(c, m->ctl_ban_add.id, rv == -1, err);
		break;
	case IMSG_CTL_BAN_DEL:
		rv = ban_del(m->ctl_ban_del.net, err, sizeof(err));
		control_done(c, m->ctl_ban_del.id, rv == -1, err);
		break;
	}
}

/* As root before the drop, like auth.sock, but mode 0600. */
void
authd_control_listen(const struct conf *conf)
{
	char	 path[PATH_MAX];

	conf_sockpath(conf, "authd.control.sock", path, sizeof(path));
	control_listen(&ctl, path);
}

void
authd_control_start(void)
{
	control_start(&ctl, -1);
}

void
authd_control_shutdown(void)
{
	control_shutdown(&ctl);
}
