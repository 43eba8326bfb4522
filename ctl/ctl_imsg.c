/*
 * tsambactl's side of a daemon's control socket (authd.control.sock,
 * queue.control.sock, root only): connect, then the channel layer's
 * blocking use (lib/channel.c) for the hello and each request, every
 * answer waited for at most CTL_IMSG_TIMEOUT_MS, so that a daemon that
 * hangs never hangs the admin's shell.
 */

#include <sys/types.h>

#include <errno.h>
#include <limits.h>
#include <unistd.h>

#include "channel.h"
#include "conf.h"
#include "imsg.h"
#include "unixsock.h"
#include "ctl.h"

#define CTL_IMSG_TIMEOUT_MS	10000

/* For a hello and nothing else: is the daemon there and answering? */
const struct channel_type ctl_hello_types[] = {
	{ 0, 0 }
};

int
ctl_imsg_open(struct ctl_imsg *ci, const struct conf *conf,
    const char *sockname, const char *peer, const struct channel_type *types)
{
	char	 path[PATH_MAX];
	int	 fd;

	ci->peer = peer;
	conf_sockpath(conf, sockname, path, sizeof(path));
	if ((fd = unixsock_connect(path, 0)) == -1) {
		ctl_warn("cannot reach %s at %s", peer, path);
		return -1;
	}
	channel_init(&ci->ch, peer, "tsambactl", types, NULL, NULL);
	if (channel_sync_hello(&ci->ch, fd, CTL_IMSG_TIMEOUT_MS) == -1) {
		ctl_warnx("no conversation with %s (not root?)", peer);
		return -1;
	}
	return 0;
}

int
ctl_imsg_request(struct ctl_imsg *ci, struct ibuf *b, uint64_t id,
    int (*each)(struct imsg *, union imsg_msg *, void *), void *arg)
{
	if (channel_sync_request(&ci->ch, b, id, each, arg,
	    CTL_IMSG_TIMEOUT_MS) == -1) {
		ctl_warnx("no answer from %s", ci->peer);
		return -1;
	}
	return 0;
}

void
ctl_imsg_close(struct ctl_imsg *ci)
{
	channel_sync_close(&ci->ch);
}
