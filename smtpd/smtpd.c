/*
 * tsamba-smtpd: the parent process.  It keeps root and reads no network
 * input: it parses the configuration, binds the listening sockets,
 * reads certificates and keys (again on SIGHUP), forks the smtp engine
 * and connects the engine to authd and the queue on request.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "daemon.h"
#include "imsg.h"
#include "listener.h"
#include "log.h"
#include "privdrop.h"
#include "proto.h"
#include "tcp_listen.h"
#include "unixsock.h"
#include "smtpd.h"

#define LISTEN_BACKLOG	511

struct conf		*smtpd_conf;

static int	*parent_bind(struct conf *, size_t *);
static int	 smtpd_read_file(const char *, char **, size_t *);
static int	 parent_send_pki(struct conf_pki *);
static void	 parent_send_pkis(int);
static void	 parent_dispatch(struct imsgev *, struct imsg *, void *);
static void	 parent_connect(struct imsg *);
static void	 parent_sig(int, short, void *);

static struct imsgev	 engine_iev;
static pid_t		 engine_pid;
static int		 engine_started;
/* authd and the queue tell the engine's connections by this uid. */
static uid_t		 engine_uid;
static gid_t		 engine_gid;

int
main(int argc, char *argv[])
{
	static const int	 sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGCHLD };
	struct event		 ev_sigs[4];
	struct daemon_opts	 opts;
	struct ibuf		*b;
	int			*fds, sp[2];
	size_t			 i, nfds;

	daemon_getopt(argc, argv, "tsamba-smtpd", &opts);

	log_init(1, "tsamba-smtpd");
	log_setverbose(opts.verbose);
	if ((smtpd_conf = calloc(1, sizeof(*smtpd_conf))) == NULL)
		err(1, "calloc");
	if (conf_parse(opts.conffile, smtpd_conf) == -1)
		exit(1);
	if (opts.noaction) {
		printf("configuration OK\n");
		exit(0);
	}
	if (TAILQ_EMPTY(&smtpd_conf->listens))
		fatalx("%s: no SMTP listen statement", opts.conffile);

	fds = parent_bind(smtpd_conf, &nfds);
	/* A certificate that cannot be read at start is fatal. */
	parent_send_pkis(-1);

	log_init(opts.debug, "tsamba-smtpd");
	log_setverbose(opts.verbose);
	if (!opts.debug && daemon(1, 0) == -1)
		fatal("daemon");
	signal(SIGPIPE, SIG_IGN);
	/* The engine inherits the limit: its socket and a spool file each. */
	if (smtpd_conf->max_sessions != 0)
		listener_check_fd_limit("SMTP", smtpd_conf->max_sessions,
		    SMTP_SESSION_FDS, LISTENER_FDS_RESERVED + nfds);

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == -1)
		fatal("socketpair");
	switch (engine_pid = fork()) {
	case -1:
		fatal("fork");
	case 0:
		close(sp[0]);
		for (i = 0; i < nfds; i++)
			close(fds[i]);
		engine_main(sp[1]);
		/* NOTREACHED */
	}
	close(sp[1]);
	log_procname("parent");
	if (priv_lookup(smtpd_conf->user_smtpd, &engine_uid, &engine_gid) ==
	    -1)
		engine_uid = engine_gid = 0;	/* not root: as ourselves */

	event_init();
	daemon_signals(ev_sigs, sigs, 4, parent_sig);

	if (fcntl(sp[0], F_SETFL, O_NONBLOCK) == -1)
		fatal("fcntl");
	imsgev_init(&engine_iev, sp[0], parent_dispatch, NULL);
	engine_started = 1;
	if (imsg_send_hello(&engine_iev.ibuf, "smtp parent") == -1)
		fatalx("hello");
	/* The imsg code closes our copy of each fd once it is sent. */
	for (i = 0; i < nfds; i++) {
		if ((b = imsg_create(IMSG_SMTP_LISTENER, 0, fds[i])) == NULL ||
		    ibuf_add_u32(b, i) == -1 ||
		    imsg_close(&engine_iev.ibuf, b) == -1)
			fatalx("cannot queue LISTENER");
	}
	free(fds);
	parent_send_pkis(1);
	if (imsg_compose(&engine_iev.ibuf, IMSG_SMTP_READY, 0, -1) == -1)
		fatalx("cannot queue READY");
	imsgev_update(&engine_iev);

	event_dispatch();
	fatalx("event loop ended");
}

/* One listening socket per listen statement, in the order of the list. */
static int *
parent_bind(struct conf *conf, size_t *nfds)
{
	struct conf_listen	*cl;
	int			*fds;
	size_t			 n = 0;

	TAILQ_FOREACH(cl, &conf->listens, entry)
		n++;
	if ((fds = calloc(n, sizeof(*fds))) == NULL)
		fatal("calloc");
	n = 0;
	TAILQ_FOREACH(cl, &conf->listens, entry) {
		if ((cl->flags & (LISTEN_TLS | LISTEN_TLS_REQUIRE |
		    LISTEN_SMTPS)) && conf_pki_find(conf, cl->pki) == NULL)
			fatalx("listen on %s port %u: TLS needs a known pki",
			    cl->addr, cl->port);
		fds[n++] = tcp_listen(cl, LISTEN_BACKLOG, 0, "SMTP");
		log_debug("listening on %s port %u", cl->addr, cl->port);
	}
	*nfds = n;
	return fds;
}

/* Read a whole small file (a PEM certificate chain or key). */
static int
smtpd_read_file(const char *path, char **bufp, size_t *lenp)
{
	struct stat	 st;
	char		*buf;
	ssize_t		 n;
	size_t		 len = 0;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		log_warn("%s", path);
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > SMTP_CERT_MAX) {
		log_warnx("%s: not a regular file of at most %d bytes", path,
		    SMTP_CERT_MAX);
		close(fd);
		return -1;
	}
	if ((buf = malloc(st.st_size + 1)) == NULL) {
		log_warn("malloc");
		close(fd);
		return -1;
	}
	while (len < (size_t)st.st_size) {
		n = read(fd, buf + len, st.st_size - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_warn("%s: read", path);
			explicit_bzero(buf, len);
			free(buf);
			close(fd);
			return -1;
		}
		len += n;
	}
	close(fd);
	buf[len] = '\0';
	*bufp = buf;
	*lenp = len;
	return 0;
}

/* Read one pki and, if the engine runs, send it: 0 or -1 (logged). */
static int
parent_send_pki(struct conf_pki *pki)
{
	struct ibuf	*b;
	char		*cert = NULL, *key = NULL;
	size_t		 certlen, keylen;
	int		 rv = -1;

	if (smtpd_read_file(pki->cert, &cert, &certlen) == -1 ||
	    smtpd_read_file(pki->key, &key, &keylen) == -1)
		goto done;
	if (2 + strlen(pki->name) + 4 + certlen + 4 + keylen >
	    IMSG_MAXPAYLOAD) {
		log_warnx("pki %s: certificate and key together exceed %d "
		    "bytes", pki->name, IMSG_MAXPAYLOAD);
		goto done;
	}
	if (!engine_started) {
		rv = 0;
		goto done;
	}
	if ((b = imsg_create(IMSG_SMTP_TLS_CONFIG, 0, -1)) == NULL)
		goto done;
	ibuf_add_str(b, pki->name);
	ibuf_add_blob(b, cert, certlen);
	ibuf_add_blob(b, key, keylen);
	if (b->error) {
		ibuf_free(b);
		goto done;
	}
	if (imsgev_send(&engine_iev, b) == -1)
		goto done;
	rv = 0;
 done:
	if (key != NULL) {
		explicit_bzero(key, keylen);
		free(key);
	}
	free(cert);
	return rv;
}

/*
 * when < 0: check at start-up (fatal); 0: reload after SIGHUP (a bad
 * file is logged and the engine keeps the old certificate); > 0: send.
 */
static void
parent_send_pkis(int when)
{
	struct conf_pki	*pki;

	TAILQ_FOREACH(pki, &smtpd_conf->pkis, entry) {
		if (parent_send_pki(pki) == 0) {
			if (when == 0)
				log_info("pki %s: certificate and key sent to "
				    "the engine", pki->name);
			continue;
		}
		if (when < 0)
			fatalx("pki %s: cannot load certificate %s and key %s",
			    pki->name, pki->cert, pki->key);
		log_warnx("pki %s: reload failed, the old certificate stays",
		    pki->name);
	}
}

static void
parent_sig(int sig, short ev, void *arg)
{
	pid_t	 pid;
	int	 status;

	switch (sig) {
	case SIGHUP:
		log_info("SIGHUP: reloading certificates");
		parent_send_pkis(0);
		break;
	case SIGCHLD:
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			if (pid != engine_pid)
				continue;
			if (WIFSIGNALED(status))
				fatalx("smtp engine killed by signal %d",
				    WTERMSIG(status));
			fatalx("smtp engine exited with status %d",
			    WEXITSTATUS(status));
		}
		break;
	default:
		log_info("exiting on signal %d", sig);
		signal(SIGCHLD, SIG_DFL);
		if (engine_pid > 0)
			kill(engine_pid, SIGTERM);
		exit(0);
	}
}

static void
parent_dispatch(struct imsgev *iev, struct imsg *imsg, void *arg)
{
	static int	 hello;

	if (imsg == NULL)
		fatalx("smtp engine went away");
	if (!hello) {
		if (imsg_check_hello(imsg, "smtp parent") == -1)
			fatalx("bad hello from the engine");
		hello = 1;
		return;
	}
	switch (imsg->hdr.type) {
	case IMSG_SMTP_CONNECT:
		parent_connect(imsg);
		break;
	default:
		fatalx("unexpected imsg %u from the engine", imsg->hdr.type);
	}
}

/* The engine, in its empty chroot, needs authd or the queue. */
static void
parent_connect(struct imsg *imsg)
{
	struct ibuf	*b;
	char		 path[PATH_MAX];
	uint64_t	 id;
	uint8_t		 which;
	int		 fd;

	if (imsg->fd != -1)
		fatalx("CONNECT with a descriptor");
	if (imsg_get_u64(imsg, &id) == -1 || imsg_get_u8(imsg, &which) == -1 ||
	    imsg_get_end(imsg) == -1)
		fatalx("malformed CONNECT");
	switch (which) {
	case CONNECT_AUTHD:
		conf_sockpath(smtpd_conf, "auth.sock", path, sizeof(path));
		break;
	case CONNECT_QUEUE:
		conf_sockpath(smtpd_conf, "queue.sock", path, sizeof(path));
		break;
	default:
		fatalx("CONNECT to unknown target %u", which);
	}
	if ((fd = unixsock_connect_as(path, 0, engine_uid, engine_gid)) ==
	    -1)
		log_debug("connect %s: %s", path, strerror(errno));
	if ((b = imsg_create(IMSG_SMTP_CONNECTED, 0, fd)) == NULL)
		fatal("imsg_create");
	ibuf_add_u64(b, id);
	ibuf_add_u8(b, which);
	ibuf_add_u8(b, fd == -1 ? 1 : 0);
	if (b->error || imsgev_send(&engine_iev, b) == -1)
		fatalx("cannot queue CONNECTED");
}
