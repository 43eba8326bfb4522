/*
 * tsamba-queue: start-up and the parent process.  The parent keeps root
 * only to prepare the spool, queue.sock and queue.control.sock and,
 * afterwards, to connect to the LMTP socket for the queue process, which
 * lives chrooted in the spool as conf->user_queue and cannot reach a
 * path outside it.  It forks two children: the queue process and the
 * mta process (remote delivery, mta.c), joined by a socketpair made
 * here.  The parent parses no network input and exits when either
 * child dies (fail-stop): the queue process stops by itself when it
 * loses the mta, after recording what the mta had answered.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <errno.h>
#include <event.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "daemon.h"
#include "imsg.h"
#include "log.h"
#include "privdrop.h"
#include "stats.h"
#include "queue.h"
#include "unixsock.h"
#include "mta.h"

#define LMTP_CONNECT_TIMEOUT	5	/* seconds */
#define CHILD_GRACE_SEC		10	/* for the queue after the mta died */

struct conf		*queue_conf;
static struct conf	 conf;
static struct channel	 peer_ch;
static pid_t		 child_pid = -1;	/* the queue process */
static pid_t		 mta_pid = -1;
static char		 sockpath[PATH_MAX];
static char		 ctlpath[PATH_MAX];
static struct event	 grace_ev;
/* The queue process's ids: the LMTP server tells the queue by them. */
static uid_t		 queue_uid;
static gid_t		 queue_gid;

/* incoming/, queue/, corrupt/, pool/: the queue user's, 0700. */
static void
prepare_spool(uid_t uid, gid_t gid)
{
	const char	*dirs[] = { "incoming", "queue", "corrupt", "pool" };
	struct stat	 st;
	char		 path[PATH_MAX];
	size_t		 i;

	if (mkdir(conf.spool, 0755) == 0)
		log_info("created %s", conf.spool);
	else if (errno != EEXIST)
		fatal("mkdir %s", conf.spool);
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", conf.spool,
		    dirs[i]) >= sizeof(path))
			fatalx("spool path too long");
		if (mkdir(path, 0700) == 0)
			log_info("created %s", path);
		else if (errno != EEXIST)
			fatal("mkdir %s", path);
		if (lstat(path, &st) == -1)
			fatal("%s", path);
		if (!S_ISDIR(st.st_mode))
			fatalx("%s is not a directory", path);
		if (geteuid() == 0 && (st.st_uid != uid || st.st_gid != gid)) {
			log_info("%s: owner set to %s", path, conf.user_queue);
			if (chown(path, uid, gid) == -1)
				fatal("chown %s", path);
		}
		if ((st.st_mode & 07777) != 0700 && chmod(path, 0700) == -1)
			fatal("chmod %s", path);
	}
}

/* queue.sock (mode 0666, peers checked) or the control socket (0600). */
static int
listen_sock(const char *name, char *path, size_t pathsz, mode_t mode)
{
	conf_sockpath(&conf, name, path, pathsz);
	return unixsock_listen(path, mode, 128, SOCK_CLOEXEC);
}

static void
unlink_socks(void)
{
	unlink(sockpath);
	unlink(ctlpath);
}

/* Connect to the LMTP socket; the fd, or -1 (logged). */
static int
lmtp_connect(void)
{
	int	 fd;

	/* A full backlog blocks connect(2) at most this long. */
	if ((fd = unixsock_connect_as(conf.queue_lmtp,
	    LMTP_CONNECT_TIMEOUT, queue_uid, queue_gid)) == -1)
		log_warn("connect %s", conf.queue_lmtp);
	return fd;
}

static const struct channel_type parent_types[] = {
	{ IMSG_QUEUE_LMTP_CONNECT, 0 },
	{ 0, 0 }
};

static void
parent_dispatch(struct channel *ch, struct imsg *imsg, union imsg_msg *m,
    void *arg)
{
	struct msg_queue_lmtp_fd	 a = {
		.id = m->queue_lmtp_connect.id };
	int				 fd;

	fd = lmtp_connect();
	a.failed = fd == -1;
	if (channel_send(ch, msg_queue_lmtp_fd_pack(&a, fd)) == -1)
		fatalx("cannot answer the queue process");
}

static void
parent_peer_down(struct channel *ch, void *arg)
{
	fatalx("queue process gone");
}

static const struct channel_cbs parent_cbs = {
	.dispatch = parent_dispatch,
	.down = parent_peer_down,
};

static void
log_child_status(const char *who, int status)
{
	if (WIFSIGNALED(status))
		log_warnx("%s process killed by signal %d", who,
		    WTERMSIG(status));
	else
		log_warnx("%s process exited with status %d", who,
		    WEXITSTATUS(status));
}

static void
stop_child(pid_t *pid)
{
	int	 status;

	if (*pid == -1)
		return;
	kill(*pid, SIGTERM);
	waitpid(*pid, &status, 0);
	*pid = -1;
}

/* The queue process did not stop after losing the mta. */
static void
parent_grace(int fd, short ev, void *arg)
{
	log_warnx("queue process still running without the mta, stopping");
	stop_child(&child_pid);
	unlink_socks();
	exit(1);
}

/*
 * A child died.  If it was the queue process, stop the mta and exit.
 * If it was the mta, the queue process notices the closed socketpair,
 * records the transfers under way as deferred and exits: wait for it
 * (a little) so that nothing the mta answered is forgotten.
 */
static void
parent_child_died(void)
{
	struct timeval	 tv = { CHILD_GRACE_SEC, 0 };
	pid_t		 pid;
	int		 status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == child_pid) {
			log_child_status("queue", status);
			child_pid = -1;
			stop_child(&mta_pid);
			unlink_socks();
			exit(1);
		}
		if (pid == mta_pid) {
			log_child_status("mta", status);
			mta_pid = -1;
			evtimer_set(&grace_ev, parent_grace, NULL);
			evtimer_add(&grace_ev, &tv);
		}
	}
}

static void
parent_sig(int sig, short ev, void *arg)
{
	switch (sig) {
	case SIGCHLD:
		parent_child_died();
		break;
	case SIGTERM:
	case SIGINT:
		log_info("exiting on signal %d", sig);
		stop_child(&child_pid);
		stop_child(&mta_pid);
		unlink_socks();
		exit(0);
	case SIGHUP:
		stats_reloaded();
		break;
	default:
		break;
	}
}

static void __attribute__((__noreturn__))
parent_main(int fd)
{
	static const int sigs[] = { SIGCHLD, SIGTERM, SIGINT, SIGHUP };
	struct event	 ev_sigs[4];

	log_procname("parent");
	event_init();
	daemon_signals(ev_sigs, sigs, 4, parent_sig);
	/* A child that died before the handler was there. */
	parent_child_died();

	channel_init(&peer_ch, "queue process", "parent", parent_types,
	    &parent_cbs, NULL);
	channel_attach(&peer_ch, fd);
	event_dispatch();
	fatalx("parent event loop ended");
}

static const struct channel_type queue_types[] = {
	{ IMSG_QUEUE_LMTP_FD, 0 },
	{ 0, 0 }
};

static void
queue_dispatch(struct channel *ch, struct imsg *imsg, union imsg_msg *m,
    void *arg)
{
	lmtp_fd(imsg, &m->queue_lmtp_fd);
}

/* The answers owed go out first (server_flush, at exit). */
static void
queue_parent_down(struct channel *ch, void *arg)
{
	fatalx("parent gone");
}

static const struct channel_cbs queue_cbs = {
	.dispatch = queue_dispatch,
	.down = queue_parent_down,
};

static void
queue_sig(int sig, short ev, void *arg)
{
	/*
	 * What is not in queue/ was never acknowledged; the answers for
	 * what is go out on the way (server_flush, at exit).
	 */
	log_info("exiting on signal %d", sig);
	exit(0);
}

static void __attribute__((__noreturn__))
queue_main(int fd, int listenfd, int ctlfd, int mtafd, uid_t smtpd_uid)
{
	static const int sigs[] = { SIGTERM, SIGINT };
	struct event	 ev_sigs[2];

	log_procname("queue");
	/* The DKIM keys: read as root, kept in this process's memory only. */
	dkim_init();
	if (chdir(conf.spool) == -1)
		fatal("chdir %s", conf.spool);
	priv_drop(conf.user_queue, conf.spool, "queue");

	event_init();
	daemon_signals(ev_sigs, sigs, 2, queue_sig);
	signal(SIGHUP, SIG_IGN);

	channel_init(&peer_ch, "parent", "queue", queue_types, &queue_cbs,
	    NULL);
	channel_attach(&peer_ch, fd);

	spool_init();
	scheduler_init();
	lmtp_init(&peer_ch);
	mta_channel_init(mtafd);
	spool_load();
	server_init(listenfd, smtpd_uid);
	/* Every exit from here on, fatal or asked for, answers first. */
	if (atexit(server_flush) != 0)
		fatalx("atexit");
	control_init(ctlfd);
	event_dispatch();
	fatalx("queue event loop ended");
}

int
main(int argc, char *argv[])
{
	struct daemon_opts	 opts;
	uid_t			 quid, suid;
	gid_t			 qgid, sgid;
	int			 pair[2], mpair[2], lfd, cfd;

	daemon_getopt(argc, argv, "tsamba-queue", &opts);
	if (conf_parse(opts.conffile, &conf) == -1)
		exit(1);
	queue_conf = &conf;
	if (opts.noaction) {
		printf("configuration OK\n");
		exit(0);
	}

	log_init_daemon(opts.debug, "tsamba-queue");
	log_setverbose(opts.verbose);

	if (priv_lookup(conf.user_queue, &quid, &qgid) == -1) {
		if (geteuid() == 0)
			fatalx("unknown user %s", conf.user_queue);
		quid = getuid();
		qgid = getgid();
	}
	if (priv_lookup(conf.user_smtpd, &suid, &sgid) == -1) {
		log_warnx("unknown user %s: only root and %s may use "
		    "queue.sock", conf.user_smtpd, conf.user_queue);
		suid = (uid_t)-1;
	}
	queue_uid = quid;
	queue_gid = qgid;
	prepare_spool(quid, qgid);
	lfd = listen_sock("queue.sock", sockpath, sizeof(sockpath), 0666);
	/* Root (or the user running the daemon) only: tsambactl queue. */
	cfd = listen_sock("queue.control.sock", ctlpath, sizeof(ctlpath),
	    0600);

	if (!opts.debug && daemon(0, 0) == -1)
		fatal("daemon");
	stats_open(conf.rundir, STATS_QUEUE, NULL, 0);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == -1 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, mpair) == -1)
		fatal("socketpair");

	switch ((child_pid = fork())) {
	case -1:
		fatal("fork");
	case 0:
		close(pair[0]);
		close(mpair[1]);
		queue_main(pair[1], lfd, cfd, mpair[0], suid);
	default:
		break;
	}
	switch ((mta_pid = fork())) {
	case -1:
		fatal("fork");
	case 0:
		close(pair[0]);
		close(pair[1]);
		close(lfd);
		close(cfd);
		close(mpair[0]);
		mta_main(&conf, mpair[1]);
	default:
		break;
	}
	close(pair[1]);
	close(mpair[0]);
	close(mpair[1]);
	close(lfd);
	close(cfd);
	parent_main(pair[0]);
}
