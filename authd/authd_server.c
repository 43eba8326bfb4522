/*
 * auth.sock: accepts the other daemons, checks who they are with
 * SO_PEERCRED, opens each channel with the hello handshake and answers
 * LOOKUP_RCPT, LOOKUP_USER, LOGIN, CHECK_SENDER, CHECK_BAN and REDEEM,
 * each only
 * to the roles authd_role.c lets ask it; a peer asking outside its role
 * is logged and dropped, as a peer that breaks the protocol is.  All but
 * CHECK_BAN, REDEEM (and LOGIN from a banned address) go to the worker
 * pool; the
 * answer goes back when the job is done, to the client if it is still
 * connected (clients are found again by serial number, never by a
 * pointer a worker may hold after the client left).  A client that
 * breaks the protocol is logged and dropped; the others keep being
 * served.
 *
 * A burst (many sessions, a slow database, a peer slow to read its
 * answers) is flow controlled, not dropped: while a client has
 * CLIENT_PENDING_MAX requests in the workers or answers not yet written
 * to it, its socket is not read, so the kernel buffer pushes back on the
 * sender, and reading resumes once half of them are through: when a job
 * ends, or when the channel says its write queue drained below the mark.
 * The hard cap CLIENT_WQ_MAX on queued answers only bounds memory; flow
 * control keeps a client below it.  The channel layer (lib/channel.c)
 * does the handshake and refuses any type authd does not answer, a
 * descriptor, and a malformed payload.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <event.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "log.h"
#include "imsg.h"
#include "unixsock.h"
#include "stats.h"
#include "authd.h"

#define CLIENTS_MAX	1024
#define CLIENT_WQ_MAX	2048	/* answers queued for a peer not reading */
#define CLIENT_PENDING_MAX	1024	/* in the workers or queued: pause */
#define CLIENT_PENDING_LOW	(CLIENT_PENDING_MAX / 2)	/* resume */

struct client {
	TAILQ_ENTRY(client)	 entry;
	struct channel		 ch;
	uint64_t		 serial;	/* jobs find us by it */
	unsigned int		 inflight;	/* jobs in the workers */
	uid_t			 uid;
	pid_t			 pid;
	int			 paused;	/* too many pending */
	int			 dead;		/* freed on the next turn */
};

/* What a peer may send on auth.sock; authd_role.c narrows it by role. */
static const struct channel_type auth_types[] = {
	{ IMSG_AUTH_LOOKUP_RCPT, 0 },
	{ IMSG_AUTH_LOOKUP_USER, 0 },
	{ IMSG_AUTH_LOGIN, 0 },
	{ IMSG_AUTH_CHECK_SENDER, 0 },
	{ IMSG_AUTH_CHECK_BAN, 0 },
	{ IMSG_AUTH_REDEEM, 0 },
	{ 0, 0 }
};

static TAILQ_HEAD(, client)	 clients = TAILQ_HEAD_INITIALIZER(clients);
static size_t			 nclients;
static uint64_t			 next_serial = 1;
static int			 listen_fd = -1;
static struct channel_server	 server;
static char			 sockpath[PATH_MAX];

/* Closed at once, freed from a fresh turn of the loop. */
static void
client_close(struct client *c)
{
	if (c->dead)
		return;
	c->dead = 1;
	channel_close(&c->ch);
	TAILQ_REMOVE(&clients, c, entry);
	nclients--;
	channel_free_later(c);
}

const char *
printable(const char *s, char *buf, size_t bufsz)
{
	size_t	 i;

	for (i = 0; s[i] != '\0' && i + 1 < bufsz; i++)
		buf[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ?
		    '?' : s[i];
	buf[i] = '\0';
	return buf;
}

static struct client *
client_find(uint64_t serial)
{
	struct client	*c;

	TAILQ_FOREACH(c, &clients, entry)
		if (c->serial == serial)
			return c->dead ? NULL : c;
	return NULL;
}

static void
client_send(struct client *c, struct ibuf *b, const char *what)
{
	if (b == NULL)
		fatal("%s", __func__);
	if (b->error) {
		ibuf_free(b);
		log_warnx("uid %d: %s answer does not fit", (int)c->uid, what);
		client_close(c);
		return;
	}
	if (channel_send(&c->ch, b) == -1)
		client_close(c);
}

static void
job_free(struct job *j)
{
	free(j->rcpt);
	free(j->user);
	explicit_bzero(j, sizeof(*j));
	free(j);
}

/* Requests taken from the client and not yet written back. */
static size_t
client_pending(struct client *c)
{
	return c->inflight + channel_queued(&c->ch);
}

/* Stop reading a client that has enough pending for now. */
static void
client_throttle(struct client *c)
{
	if (c->paused || client_pending(c) < CLIENT_PENDING_MAX)
		return;
	log_debug("uid %d pid %d: %zu requests pending, not reading until "
	    "some are answered", (int)c->uid, (int)c->pid,
	    client_pending(c));
	c->paused = 1;
	channel_pause(&c->ch);
}

static void
client_unthrottle(struct client *c)
{
	if (!c->paused || client_pending(c) > CLIENT_PENDING_LOW)
		return;
	c->paused = 0;
	channel_resume(&c->ch);
}

/*
 * Answers written: maybe resume.  A paused client has either jobs in
 * the workers (their end looks again) or more than CLIENT_PENDING_LOW
 * answers queued (the channel says when they drain below it).
 */
static void
client_drained(struct channel *ch, void *arg)
{
	struct client	*c = arg;

	if (!c->dead)
		client_unthrottle(c);
}

/* The job is over: answer its client if it is still there. */
static struct client *
job_client(struct job *j)
{
	struct client	*c;

	if ((c = client_find(j->client)) == NULL)
		return NULL;
	c->inflight--;
	client_unthrottle(c);
	return c;
}

static void
rcpt_run(struct job *j)
{
	j->status = lookup_rcpt(j->address, j->rcpt);
}

static void
rcpt_done(struct job *j)
{
	struct msg_auth_rcpt_result	 m;
	struct rec_auth_rcpt		 e;
	struct client			*c;
	struct ibuf			*b;
	char				 vis[ADDR_MAX + 1];
	size_t				 i;

	if ((c = job_client(j)) != NULL) {
		log_debug("uid %d: rcpt %s: status %d, %zu recipients",
		    (int)c->uid, printable(j->address, vis, sizeof(vis)),
		    j->status, j->rcpt->n);
		m.id = j->id;
		m.status = j->status;
		m.rcpts.n = j->rcpt->n;
		if ((b = msg_auth_rcpt_result_pack(&m, -1)) == NULL)
			fatal("%s", __func__);
		for (i = 0; i < j->rcpt->n; i++) {
			e.mailbox = j->rcpt->r[i].mailbox;
			e.flags = j->rcpt->r[i].flags;
			rec_auth_rcpt_pack(b, &e);
		}
		msg_auth_rcpt_result_pack_tail(b, &m);
		client_send(c, b, "rcpt");
	}
	job_free(j);
}

static void
user_run(struct job *j)
{
	j->status = lookup_user(j->address, j->user);
}

static void
user_done(struct job *j)
{
	struct client		*c;
	struct user_result	*ur = j->user;
	char			 vis[ADDR_MAX + 1];
	struct msg_auth_user_result m = {
		.id = j->id, .status = j->status, .maildir = ur->maildir,
		.uid = ur->uid, .gid = ur->gid, .quota = ur->quota,
	};

	if ((c = job_client(j)) != NULL) {
		log_debug("uid %d: user %s: status %d, %s %d:%d",
		    (int)c->uid, printable(j->address, vis, sizeof(vis)),
		    j->status, ur->maildir, (int)ur->uid, (int)ur->gid);
		client_send(c, msg_auth_user_result_pack(&m, -1), "user");
	}
	job_free(j);
}

static void
login_reply(struct client *c, uint64_t id, int status, const char *canon,
    const char *token)
{
	struct msg_auth_login_result	 m = { .id = id, .status = status,
	    .user = status == AUTH_OK ? canon : "",
	    .token = status == AUTH_OK ? token : "" };

	client_send(c, msg_auth_login_result_pack(&m, -1), "login");
}

static void
login_run(struct job *j)
{
	j->status = lookup_login(j->address, j->password, j->passwordlen,
	    j->canon, sizeof(j->canon), &j->reason);
	explicit_bzero(j->password, sizeof(j->password));
	/*
	 * An IMAP/POP3 login goes on to a mail process: its mailbox is
	 * resolved now, for the token, so that the parent's REDEEM needs
	 * no second lookup (and no second chance to differ).
	 */
	if (j->status == AUTH_OK && j->user != NULL)
		switch (lookup_user(j->canon, j->user)) {
		case LOOKUP_OK:
			break;
		case LOOKUP_TEMPFAIL:
			j->status = AUTH_TEMPFAIL;
			break;
		default:
			/* A user without a mailbox has nothing to read. */
			j->status = AUTH_FAIL;
			j->reason = LOGIN_REASON_NOUSER;
			break;
		}
}

static void
login_done(struct job *j)
{
	struct client	*c;
	char		 vis[ADDR_MAX + 1];
	char		 token[PROTO_TOKEN_MAX + 1];

	c = job_client(j);
	token[0] = '\0';
	if (j->status == AUTH_OK && j->user != NULL &&
	    token_issue(j->service, j->canon, j->user, token,
	    sizeof(token)) == -1)
		j->status = AUTH_TEMPFAIL;
	stats_inc(j->status == AUTH_OK ? ST_AUTH_OK : j->status == AUTH_FAIL ?
	    ST_AUTH_FAIL : ST_AUTH_TEMPFAIL, stats_label_index(SL_SERVICE,
	    j->service));
	if (j->status == AUTH_FAIL)
		ban_failure(j->service, j->address, j->ip,
		    j->reason == LOGIN_REASON_PASSWORD ? "password" :
		    j->reason == LOGIN_REASON_SCHEME ? "bad-scheme" :
		    "unknown-user");
	else if (j->status == AUTH_OK)
		log_info("auth ok: service=%s user=%s ip=%s", j->service,
		    j->canon, j->ip[0] != '\0' ? j->ip : "unknown");
	else
		log_warnx("auth tempfail: service=%s user=%s ip=%s",
		    j->service, printable(j->address, vis, sizeof(vis)),
		    j->ip[0] != '\0' ? j->ip : "unknown");
	if (c != NULL)
		login_reply(c, j->id, j->status, j->canon, token);
	explicit_bzero(token, sizeof(token));
	job_free(j);
}

static void
sender_run(struct job *j)
{
	j->status = lookup_sender(j->address, j->sender);
}

static void
sender_done(struct job *j)
{
	struct msg_auth_sender_result	 m = { .id = j->id,
	    .status = j->status };
	struct client			*c;

	if ((c = job_client(j)) != NULL)
		client_send(c, msg_auth_sender_result_pack(&m, -1), "sender");
	job_free(j);
}

static void
reply_ban(struct client *c, uint64_t id, const char *ip)
{
	struct msg_auth_ban_result	 m = { .id = id };
	time_t				 end;

	m.banned = ban_check(ip, &end);
	m.end = m.banned ? (uint64_t)end : 0;
	client_send(c, msg_auth_ban_result_pack(&m, -1), "ban");
}

static struct job *
job_new(struct client *c, uint64_t id, uint32_t type, job_fn run,
    job_fn done)
{
	struct job	*j;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		return NULL;
	j->client = c->serial;
	j->id = id;
	j->type = type;
	j->run = run;
	j->done = done;
	return j;
}

/*
 * A string of the request into a job field: one that does not fit is
 * not an address or password anyone has, so it is answered as unknown
 * by truncating to an invalid value (an empty string).
 */
static size_t
field(char *dst, const char *src, size_t dstsz)
{
	size_t	 n;

	if ((n = strlcpy(dst, src, dstsz)) >= dstsz) {
		dst[0] = '\0';
		n = 0;
	}
	return n;
}

/* The imapd parent redeems a login token: no table, no worker. */
static void
reply_redeem(struct client *c, struct msg_auth_redeem *r)
{
	struct msg_auth_redeem_result	 m = { .id = r->id };
	struct user_result		 ur;
	char				 user[AUTHD_KEY_MAX];
	char				 service[16];

	memset(&ur, 0, sizeof(ur));
	user[0] = '\0';
	field(service, r->service, sizeof(service));
	m.status = token_redeem(r->token, service, user, sizeof(user), &ur);
	if (m.status == LOOKUP_OK) {
		m.user = user;
		m.maildir = ur.maildir;
		m.uid = ur.uid;
		m.gid = ur.gid;
		m.quota = ur.quota;
		log_debug("uid %d: token redeemed for %s %s", (int)c->uid,
		    service, user);
	} else
		log_warnx("uid %d pid %d: %s token refused (unknown, used or "
		    "expired)", (int)c->uid, (int)c->pid, service);
	client_send(c, msg_auth_redeem_result_pack(&m, -1), "redeem");
	explicit_bzero(&ur, sizeof(ur));
}

/* The job a request asks for: 0, or -1 out of memory. */
static int
request_job(struct client *c, uint32_t type, union imsg_msg *m,
    struct job **jp)
{
	struct job	*j = NULL;

	switch (type) {
	case IMSG_AUTH_LOOKUP_RCPT:
		j = job_new(c, m->auth_lookup_rcpt.id, type, rcpt_run,
		    rcpt_done);
		if (j == NULL || (j->rcpt = malloc(sizeof(*j->rcpt))) == NULL)
			goto nomem;
		field(j->address, m->auth_lookup_rcpt.address,
		    sizeof(j->address));
		break;
	case IMSG_AUTH_LOOKUP_USER:
		j = job_new(c, m->auth_lookup_user.id, type, user_run,
		    user_done);
		if (j == NULL || (j->user = malloc(sizeof(*j->user))) == NULL)
			goto nomem;
		field(j->address, m->auth_lookup_user.mailbox,
		    sizeof(j->address));
		break;
	case IMSG_AUTH_LOGIN:
		j = job_new(c, m->auth_login.id, type, login_run, login_done);
		if (j == NULL)
			goto nomem;
		field(j->address, m->auth_login.user, sizeof(j->address));
		j->passwordlen = field(j->password, m->auth_login.password,
		    sizeof(j->password));
		field(j->ip, m->auth_login.ip, sizeof(j->ip));
		field(j->service, m->auth_login.service, sizeof(j->service));
		if (j->service[0] == '\0')
			strlcpy(j->service, "unknown", sizeof(j->service));
		if (token_service(j->service) &&
		    (j->user = malloc(sizeof(*j->user))) == NULL)
			goto nomem;
		break;
	case IMSG_AUTH_CHECK_SENDER:
		j = job_new(c, m->auth_check_sender.id, type, sender_run,
		    sender_done);
		if (j == NULL)
			goto nomem;
		field(j->address, m->auth_check_sender.user,
		    sizeof(j->address));
		field(j->sender, m->auth_check_sender.sender,
		    sizeof(j->sender));
		break;
	}
	*jp = j;
	return 0;
 nomem:
	log_warn("%s", __func__);
	if (j != NULL)
		job_free(j);
	*jp = NULL;
	return -1;
}

/* A LOGIN from a banned address is answered at once. */
static int
login_banned(struct client *c, struct job *j)
{
	char	 vis[ADDR_MAX + 1];
	time_t	 end;

	if (!ban_check(j->ip, &end))
		return 0;
	ban_failure(j->service, j->address, j->ip, "banned");
	login_reply(c, j->id, AUTH_BANNED, "", "");
	log_debug("uid %d: login %s refused: banned", (int)c->uid,
	    printable(j->address, vis, sizeof(vis)));
	return 1;
}

static void
client_request(struct channel *ch, struct imsg *imsg, union imsg_msg *m,
    void *arg)
{
	struct client	*c = arg;
	struct job	*j;
	char		 ip[64];
	uint32_t	 type = imsg->hdr.type;

	if (c->dead)
		return;
	if (channel_queued(&c->ch) > CLIENT_WQ_MAX) {
		log_warnx("uid %d pid %d: not reading its answers, closed",
		    (int)c->uid, (int)c->pid);
		client_close(c);
		return;
	}
	/* A question outside the peer's role: a bug or a break-in. */
	if (!role_may_ask(c->uid, c->pid, type)) {
		client_close(c);
		return;
	}
	if (type == IMSG_AUTH_CHECK_BAN) {
		field(ip, m->auth_check_ban.ip, sizeof(ip));
		reply_ban(c, m->auth_check_ban.id, ip);
		return;
	}
	if (type == IMSG_AUTH_REDEEM) {
		reply_redeem(c, &m->auth_redeem);
		explicit_bzero(imsg->data, imsg->len);
		return;
	}
	if (request_job(c, type, m, &j) == -1) {
		client_close(c);
		return;
	}
	/* The payload (a password) is wiped by imsg_free() on return. */
	if (type == IMSG_AUTH_LOGIN && login_banned(c, j)) {
		job_free(j);
		return;
	}
	c->inflight++;
	worker_submit(j);
	client_throttle(c);
}

static void
client_down(struct channel *ch, void *arg)
{
	struct client	*c = arg;

	log_debug("uid %d pid %d: closed", (int)c->uid, (int)c->pid);
	client_close(c);
}

static const struct channel_cbs client_cbs = {
	.dispatch = client_request,
	.down = client_down,
	.drained = client_drained,
};

static void
client_new(int fd, const struct ucred *cred)
{
	struct client	*c;
	char		 names[64], name[CHANNEL_NAME_MAX];

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("%s", __func__);
		close(fd);
		return;
	}
	c->uid = cred->uid;
	c->pid = cred->pid;
	c->serial = next_serial++;
	TAILQ_INSERT_TAIL(&clients, c, entry);
	nclients++;
	snprintf(name, sizeof(name), "uid %u pid %d", (unsigned)c->uid,
	    (int)c->pid);
	channel_init(&c->ch, name, "authd", auth_types, &client_cbs, c);
	channel_set_drain(&c->ch, CLIENT_PENDING_LOW);
	channel_attach(&c->ch, fd);
	/* Once per channel: the engines keep theirs open. */
	log_info("uid %u pid %d (role %s) connected", (unsigned)c->uid,
	    (int)c->pid, role_names(c->uid, names, sizeof(names)));
}

/* Only the uids of the role table get a channel. */
static void
server_accepted(struct channel_server *srv, int fd, const struct ucred *cred,
    void *arg)
{
	const uid_t	*uids;
	struct ucred	 checked;
	size_t		 nuids;

	uids = role_peer_uids(&nuids);
	if (unixsock_peer_check(fd, uids, nuids, "auth.sock", "ask authd",
	    &checked) == -1) {
		close(fd);
		return;
	}
	if (nclients >= CLIENTS_MAX) {
		log_warnx("connection from uid %d pid %d refused: %d "
		    "clients", (int)cred->uid, (int)cred->pid, CLIENTS_MAX);
		close(fd);
		return;
	}
	client_new(fd, cred);
}

/* As root, before the privilege drop: the socket is ours to create. */
void
server_listen(const struct conf *conf)
{
	struct stat	 st;

	if (stat(conf->rundir, &st) == -1 || !S_ISDIR(st.st_mode))
		fatalx("run directory %s is missing: it is created by whoever "
		    "starts tsamba-authd (systemd RuntimeDirectory=tsamba)",
		    conf->rundir);
	conf_sockpath(conf, "auth.sock", sockpath, sizeof(sockpath));
	/* Who may ask is decided by SO_PEERCRED, not by the file mode. */
	listen_fd = unixsock_listen(sockpath, 0666, 128,
	    SOCK_NONBLOCK | SOCK_CLOEXEC);
}

void
server_start(void)
{
	channel_server_init(&server, listen_fd, "auth.sock", server_accepted,
	    NULL);
	log_info("listening on %s", sockpath);
}

void
server_shutdown(void)
{
	struct client	*c;

	channel_server_close(&server);
	/* May fail in a root-owned rundir; the next start unlinks it. */
	(void)unlink(sockpath);
	while ((c = TAILQ_FIRST(&clients)) != NULL) {
		TAILQ_REMOVE(&clients, c, entry);
		channel_close(&c->ch);
		free(c);
	}
	nclients = 0;
}
