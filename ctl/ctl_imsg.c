/*
 * tsambactl's side of a daemon's control socket (authd.control.sock,
 * queue.control.sock, root only): connect, the imsg hello, and each
 * answer waited for at most CTL_IMSG_TIMEOUT_MS, so that a daemon that
 * hangs never hangs the admin's shell.
 */

#include <sys/types.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <unistd.h>

#include "conf.h"
#include "imsg.h"
#include "unixsock.h"
#include "ctl.h"

#define CTL_IMSG_TIMEOUT_MS	10000

static int
ctl_imsg_hello(struct ctl_imsg *ci)
{
	struct imsg	 imsg;
	int		 rv;

	if (imsg_send_hello(&ci->ib, "tsambactl") == -1 ||
	    imsgbuf_flush(&ci->ib) == -1) {
		ctl_warn("cannot write to %s", ci->peer);
		return -1;
	}
	if (ctl_imsg_next(ci, &imsg) == -1)
		return -1;
	rv = imsg_check_hello(&imsg, ci->peer);
	imsg_free(&imsg);
	if (rv == -1)
		ctl_warnx("%s speaks another protocol version", ci->peer);
	return rv;
}

int
ctl_imsg_open(struct ctl_imsg *ci, const struct conf *conf,
    const char *sockname, const char *peer)
{
	char	 path[PATH_MAX];
	int	 fd;

	ci->peer = peer;
	conf_sockpath(conf, sockname, path, sizeof(path));
	if ((fd = unixsock_connect(path, 0)) == -1) {
		ctl_warn("cannot reach %s at %s", peer, path);
		return -1;
	}
	imsgbuf_init(&ci->ib, fd);
	if (ctl_imsg_hello(ci) == -1) {
		ctl_imsg_close(ci);
		return -1;
	}
	return 0;
}

int
ctl_imsg_next(struct ctl_imsg *ci, struct imsg *imsg)
{
	struct pollfd	 pfd;
	ssize_t		 n;
	int		 r;

	for (;;) {
		if ((r = imsg_get(&ci->ib, imsg)) == 1)
			return 0;
		if (r == -1) {
			ctl_warnx("malformed message from %s", ci->peer);
			return -1;
		}
		pfd.fd = ci->ib.fd;
		pfd.events = POLLIN;
		if ((r = poll(&pfd, 1, CTL_IMSG_TIMEOUT_MS)) == -1) {
			if (errno == EINTR)
				continue;
			ctl_warn("poll");
			return -1;
		}
		if (r == 0) {
			ctl_warnx("%s did not answer", ci->peer);
			return -1;
		}
		if ((n = imsgbuf_read(&ci->ib)) == -1) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			ctl_warn("read");
			return -1;
		}
		if (n == 0) {
			ctl_warnx("%s closed the connection (not root?)",
			    ci->peer);
			return -1;
		}
	}
}

void
ctl_imsg_close(struct ctl_imsg *ci)
{
	imsgbuf_clear(&ci->ib);
	close(ci->ib.fd);
}
