/*
 * Brute-force protection: failed logins are counted per client network
 * over a window (ban window, from the first failure); the network that
 * reaches ban max-failures is banned for ban duration.  The network of
 * a client is its address cut to ban prefix: by default an IPv4 address
 * is its own network (/32) and an IPv6 one counts as its /64, the
 * smallest network a site or a home line is given, so a client cannot
 * escape by moving through the addresses it owns.  Networks named by
 * "ban never" are never counted nor banned.  tsambactl may add and
 * remove bans (an address or a network) over the control socket.
 *
 * Bans live in memory and in statedir/authd/bans, rewritten whole on
 * every change (temporary file, fsync, rename, fsync of the directory)
 * and read back at start-up without the expired ones, so a restart does
 * not lift them.  The directory is opened before the privilege drop and
 * used through its descriptor, so it works in a chroot too.  When it
 * cannot be made, bans are kept in memory only (logged at start-up).
 *
 * Every failure and every ban is one log line in a fixed format that
 * fail2ban can read as well:
 *   auth failure: service=smtp user=USER ip=IP reason=REASON
 *   ban: ip=NET failures=N until=YYYY-MM-DDTHH:MM:SSZ (Ss)
 *   unban: ip=NET reason=expired|admin
 * where NET is an address for a network of one host (every IPv4 ban by
 * default, and bans read from files written before networks were
 * counted) and ADDRESS/PREFIX otherwise.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/tree.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ipaddr.h"
#include "log.h"
#include "privdrop.h"
#include "stats.h"
#include "timefmt.h"
#include "authd.h"

#define BAN_FILE	"bans"
#define BAN_TMP		"bans.tmp"
#define FAILRECS_MAX	65536	/* addresses counted at once */
#define BANS_MAX	65536
#define BAN_TICK	1	/* s between expiry checks */

struct ban {
	TAILQ_ENTRY(ban)	 entry;
	struct conf_net		 net;
	time_t			 end;
	unsigned int		 failures;
};
TAILQ_HEAD(banlist, ban);

struct failrec {
	RB_ENTRY(failrec)	 node;
	char			 net[CONF_HOST_MAX];	/* ban_net_text() */
	time_t			 first;
	unsigned int		 count;
};
RB_HEAD(failtree, failrec);

static int	failrec_cmp(struct failrec *, struct failrec *);
RB_PROTOTYPE_STATIC(failtree, failrec, node, failrec_cmp)
RB_GENERATE_STATIC(failtree, failrec, node, failrec_cmp)

static const struct conf	*conf;
static struct banlist		 bans = TAILQ_HEAD_INITIALIZER(bans);
static size_t			 nbans;
static struct failtree		 fails = RB_INITIALIZER(&fails);
static size_t			 nfails;
static int			 ban_dirfd = -1;
static char			 dirpath[PATH_MAX];
static struct event		 tick_ev;

static int
failrec_cmp(struct failrec *a, struct failrec *b)
{
	return strcmp(a->net, b->net);
}

/*
 * A network in one canonical text form, the key of its failure count
 * and ban: the masked address, then /PREFIX unless it is one host.
 */
static int
ban_net_text(struct conf_net *n)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)&n->ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&n->ss;
	char			 addr[INET6_ADDRSTRLEN];
	int			 host;

	if (n->ss.ss_family == AF_INET) {
		if (inet_ntop(AF_INET, &sin->sin_addr, addr,
		    sizeof(addr)) == NULL)
			return -1;
		host = n->prefixlen == 32;
	} else {
		if (inet_ntop(AF_INET6, &sin6->sin6_addr, addr,
		    sizeof(addr)) == NULL)
			return -1;
		host = n->prefixlen == 128;
	}
	if (host)
		strlcpy(n->text, addr, sizeof(n->text));
	else
		(void)snprintf(n->text, sizeof(n->text), "%s/%d", addr,
		    n->prefixlen);
	return 0;
}

/* An address or network as an admin or the ban file writes it. */
static int
ban_net_parse(struct conf_net *n, const char *text)
{
	if (conf_net_parse(n, text) == -1)
		return -1;
	return ban_net_text(n);
}

/* The network a client address (canonical text) is counted as. */
static int
ban_net_of(const char *addr, int family, struct conf_net *n)
{
	char	 text[CONF_HOST_MAX];
	int	 len;

	len = snprintf(text, sizeof(text), "%s/%u", addr,
	    family == AF_INET ? conf->ban_prefix4 : conf->ban_prefix6);
	if (len < 0 || (size_t)len >= sizeof(text))
		return -1;
	return ban_net_parse(n, text);
}

static int
net_contains(struct conf_net *n, const struct sockaddr_storage *ss)
{
	struct conf_net_list	 one;

	/* conf_net_match() takes a list: a list of this one network. */
	TAILQ_INIT(&one);
	TAILQ_INSERT_TAIL(&one, n, entry);
	return conf_net_match(&one, (const struct sockaddr *)ss);
}

/* The whole list, written anew and renamed into place. */
static void
ban_save(void)
{
	struct ban	*b;
	FILE		*f;
	int		 fd;

	if (ban_dirfd == -1)
		return;
	if ((fd = openat(ban_dirfd, BAN_TMP, O_WRONLY | O_CREAT | O_TRUNC |
	    O_CLOEXEC | O_NOFOLLOW, 0600)) == -1) {
		log_warn("%s/%s", dirpath, BAN_TMP);
		return;
	}
	if ((f = fdopen(fd, "w")) == NULL) {
		log_warn("%s/%s", dirpath, BAN_TMP);
		close(fd);
		return;
	}
	fprintf(f, "# tsamba-authd bans: network, end (unix time), "
	    "failures\n");
	TAILQ_FOREACH(b, &bans, entry)
		fprintf(f, "%s %lld %u\n", b->net.text, (long long)b->end,
		    b->failures);
	if (fflush(f) != 0 || fsync(fd) == -1) {
		log_warn("%s/%s", dirpath, BAN_TMP);
		fclose(f);
		return;
	}
	if (fclose(f) != 0) {
		log_warn("%s/%s", dirpath, BAN_TMP);
		return;
	}
	if (renameat(ban_dirfd, BAN_TMP, ban_dirfd, BAN_FILE) == -1) {
		log_warn("rename %s/%s", dirpath, BAN_FILE);
		return;
	}
	if (fsync(ban_dirfd) == -1)
		log_warn("fsync %s", dirpath);
}

static struct ban *
ban_find_text(const struct conf_net *n)
{
	struct ban	*b;

	TAILQ_FOREACH(b, &bans, entry)
		if (b->net.prefixlen == n->prefixlen &&
		    b->net.ss.ss_family == n->ss.ss_family &&
		    memcmp(&b->net.ss, &n->ss, sizeof(n->ss)) == 0)
			return b;
	return NULL;
}

static struct ban *
ban_insert(const struct conf_net *n, time_t end, unsigned int failures)
{
	struct ban	*b;

	if ((b = ban_find_text(n)) != NULL) {
		b->end = end;
		if (failures > b->failures)
			b->failures = failures;
		return b;
	}
	if (nbans >= BANS_MAX) {
		log_warnx("more than %d bans: not adding %s", BANS_MAX,
		    n->text);
		return NULL;
	}
	if ((b = calloc(1, sizeof(*b))) == NULL) {
		log_warn("%s", __func__);
		return NULL;
	}
	b->net = *n;
	b->end = end;
	b->failures = failures;
	TAILQ_INSERT_TAIL(&bans, b, entry);
	nbans++;
	stats_set(ST_BANS, 0, nbans);
	return b;
}

static void
ban_remove(struct ban *b, const char *why)
{
	log_info("unban: ip=%s reason=%s", b->net.text, why);
	TAILQ_REMOVE(&bans, b, entry);
	nbans--;
	stats_set(ST_BANS, 0, nbans);
	free(b);
}

static void
ban_load(void)
{
	struct conf_net	 n;
	FILE		*f;
	char		 line[CONF_HOST_MAX + 64], net[CONF_HOST_MAX];
	long long	 end;
	unsigned int	 failures;
	time_t		 now = time(NULL);
	size_t		 lineno = 0, loaded = 0;
	int		 fd;

	if (ban_dirfd == -1)
		return;
	if ((fd = openat(ban_dirfd, BAN_FILE, O_RDONLY | O_CLOEXEC |
	    O_NOFOLLOW)) == -1) {
		if (errno != ENOENT)
			log_warn("%s/%s", dirpath, BAN_FILE);
		return;
	}
	if ((f = fdopen(fd, "r")) == NULL) {
		log_warn("%s/%s", dirpath, BAN_FILE);
		close(fd);
		return;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (sscanf(line, "%255s %lld %u", net, &end, &failures) != 3 ||
		    ban_net_parse(&n, net) == -1) {
			log_warnx("%s/%s:%zu: bad line skipped", dirpath,
			    BAN_FILE, lineno);
			continue;
		}
		if (end <= now)
			continue;
		if (ban_insert(&n, (time_t)end, failures) != NULL)
			loaded++;
	}
	fclose(f);
	log_info("%zu bans loaded from %s/%s", loaded, dirpath, BAN_FILE);
	ban_save();	/* without the expired ones */
}

/* Expired bans and stale failure counts go; at most once a second. */
static void
ban_tick(int fd, short ev, void *arg)
{
	struct timeval	 tv = { BAN_TICK, 0 };
	struct ban	*b, *next;
	struct failrec	*r, *rnext;
	time_t		 now = time(NULL);
	int		 changed = 0;

	TAILQ_FOREACH_SAFE(b, &bans, entry, next)
		if (b->end <= now) {
			ban_remove(b, "expired");
			changed = 1;
		}
	RB_FOREACH_SAFE(r, failtree, &fails, rnext)
		if (r->first + (time_t)conf->ban_window <= now) {
			RB_REMOVE(failtree, &fails, r);
			nfails--;
			free(r);
		}
	if (changed)
		ban_save();
	evtimer_add(&tick_ev, &tv);
}

/*
 * As root, before the drop: statedir/authd, owned by the auth user,
 * opened for the life of the process.
 */
void
ban_init(const struct conf *c)
{
	uid_t		 uid;
	gid_t		 gid;
	int		 fd;

	conf = c;
	if ((size_t)snprintf(dirpath, sizeof(dirpath), "%s/authd",
	    c->statedir) >= sizeof(dirpath)) {
		log_warnx("statedir too long: bans are kept in memory only");
		return;
	}
	if (mkdir(c->statedir, 0755) == -1 && errno != EEXIST)
		goto fail;
	if (mkdir(dirpath, 0700) == -1 && errno != EEXIST)
		goto fail;
	if ((fd = open(dirpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC |
	    O_NOFOLLOW)) == -1)
		goto fail;
	if (geteuid() == 0 && priv_lookup(c->user_auth, &uid, &gid) == 0 &&
	    fchown(fd, uid, gid) == -1) {
		log_warn("chown %s", dirpath);
		close(fd);
		return;
	}
	ban_dirfd = fd;
	return;
 fail:
	log_warn("%s: bans are kept in memory only", dirpath);
}

void
ban_start(void)
{
	struct timeval	 tv = { BAN_TICK, 0 };

	ban_load();
	evtimer_set(&tick_ev, ban_tick, NULL);
	evtimer_add(&tick_ev, &tv);
}

int
ban_check(const char *ip, time_t *end)
{
	struct sockaddr_storage	 ss;
	struct ban		*b;
	time_t			 now = time(NULL);

	*end = 0;
	if (ip_parse(ip, NULL, 0, &ss) == -1)
		return 0;
	TAILQ_FOREACH(b, &bans, entry)
		if (b->end > now && net_contains(&b->net, &ss)) {
			*end = b->end;
			return 1;
		}
	return 0;
}

static void
ban_new(const struct conf_net *n, unsigned int failures)
{
	char		 until[TIME_ISO8601_SIZE];
	time_t		 end = time(NULL) + conf->ban_duration;

	if (ban_insert(n, end, failures) == NULL)
		return;
	stats_inc(ST_BANS_TOTAL, 0);
	time_iso8601(end, until, sizeof(until));
	log_warnx("ban: ip=%s failures=%u until=%s (%us)", n->text, failures,
	    until, conf->ban_duration);
	ban_save();
}

/* One failed login: logged, counted, and maybe the last straw. */
void
ban_failure(const char *service, const char *user, const char *ip,
    const char *reason)
{
	struct sockaddr_storage	 ss;
	struct conf_net		 net;
	struct failrec		 needle, *r;
	char			 vuser[ADDR_MAX + 1], vservice[16];
	char			 norm[INET6_ADDRSTRLEN];
	time_t			 now = time(NULL);
	size_t			 i;

	/* No blanks either: every field stays one word. */
	printable(user, vuser, sizeof(vuser));
	for (i = 0; vuser[i] != '\0'; i++)
		if (vuser[i] == ' ')
			vuser[i] = '?';
	if (vuser[0] == '\0')
		strlcpy(vuser, "-", sizeof(vuser));
	printable(service, vservice, sizeof(vservice));
	for (i = 0; vservice[i] != '\0'; i++)
		if (vservice[i] == ' ')
			vservice[i] = '?';
	if (ip_parse(ip, norm, sizeof(norm), &ss) == -1) {
		log_warnx("auth failure: service=%s user=%s ip=unknown "
		    "reason=%s", vservice, vuser, reason);
		return;
	}
	log_warnx("auth failure: service=%s user=%s ip=%s reason=%s",
	    vservice, vuser, norm, reason);
	if (strcmp(reason, "banned") == 0 ||
	    conf_net_match(&conf->ban_never, (struct sockaddr *)&ss) ||
	    ban_net_of(norm, ss.ss_family, &net) == -1)
		return;

	strlcpy(needle.net, net.text, sizeof(needle.net));
	if ((r = RB_FIND(failtree, &fails, &needle)) != NULL &&
	    r->first + (time_t)conf->ban_window <= now) {
		r->first = now;
		r->count = 0;
	}
	if (r == NULL) {
		if (nfails >= FAILRECS_MAX ||
		    (r = calloc(1, sizeof(*r))) == NULL)
			return;
		strlcpy(r->net, net.text, sizeof(r->net));
		r->first = now;
		RB_INSERT(failtree, &fails, r);
		nfails++;
	}
	if (++r->count >= conf->ban_max_failures) {
		ban_new(&net, r->count);
		RB_REMOVE(failtree, &fails, r);
		nfails--;
		free(r);
	}
}

void
ban_walk(ban_walk_fn fn, void *arg)
{
	struct ban		*b;
	struct ban_entry	 e;
	time_t			 now = time(NULL);

	TAILQ_FOREACH(b, &bans, entry) {
		if (b->end <= now)
			continue;
		strlcpy(e.ip, b->net.text, sizeof(e.ip));
		e.end = b->end;
		e.failures = b->failures;
		if (fn(&e, arg) == -1)
			break;
	}
}

int
ban_add(const char *net, time_t seconds, char *err, size_t errsz)
{
	struct conf_net	 n;
	char		 until[TIME_ISO8601_SIZE];
	time_t		 end;

	if (ban_net_parse(&n, net) == -1) {
		snprintf(err, errsz, "not an address or network: %s", net);
		return -1;
	}
	if (seconds <= 0)
		seconds = conf->ban_duration;
	if (seconds > 10 * 365 * 86400)
		seconds = 10 * 365 * 86400;
	end = time(NULL) + seconds;
	if (ban_insert(&n, end, 0) == NULL) {
		snprintf(err, errsz, "cannot add the ban");
		return -1;
	}
	time_iso8601(end, until, sizeof(until));
	log_warnx("ban: ip=%s failures=0 until=%s (%llds) by admin", n.text,
	    until, (long long)seconds);
	/* The admin sees the network as stored, which may differ. */
	snprintf(err, errsz, "banned %s until %s (%llds)", n.text, until,
	    (long long)seconds);
	ban_save();
	return 0;
}

/* Failures counted against a network start again from none. */
static void
failrec_forget(const char *net)
{
	struct failrec	 needle, *r;

	strlcpy(needle.net, net, sizeof(needle.net));
	if ((r = RB_FIND(failtree, &fails, &needle)) != NULL) {
		RB_REMOVE(failtree, &fails, r);
		nfails--;
		free(r);
	}
}

/*
 * Lift the ban on exactly this network, or, given one address, every
 * ban that holds it (its /64, and an old ban of the address alone):
 * an admin naming an address wants that client let in.
 */
int
ban_del(const char *net, char *err, size_t errsz)
{
	struct sockaddr_storage	 ss;
	struct conf_net		 n, counted;
	struct ban		*b, *next;
	int			 host, removed = 0;

	if (ban_net_parse(&n, net) == -1) {
		snprintf(err, errsz, "not an address or network: %s", net);
		return -1;
	}
	host = n.prefixlen == (n.ss.ss_family == AF_INET ? 32 : 128);
	if ((b = ban_find_text(&n)) != NULL) {
		failrec_forget(b->net.text);
		ban_remove(b, "admin");
		removed = 1;
	}
	if (host) {
		ss = n.ss;
		TAILQ_FOREACH_SAFE(b, &bans, entry, next)
			if (net_contains(&b->net, &ss)) {
				failrec_forget(b->net.text);
				ban_remove(b, "admin");
				removed = 1;
			}
		/* A fresh start for the address, not one failure from a ban. */
		if (ban_net_of(n.text, ss.ss_family, &counted) == 0)
			failrec_forget(counted.text);
	}
	if (!removed) {
		snprintf(err, errsz, "no ban for %s", net);
		return -1;
	}
	ban_save();
	return 0;
}
