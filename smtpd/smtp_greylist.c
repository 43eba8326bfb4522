/*
 * The greylist of the lookup process: triplets (client network, sender,
 * recipient) with the time they were first seen and the time they last
 * passed.  A triplet passes once it comes back after the delay and
 * within the retry window, and then goes on passing for the expiry time
 * after its last pass.  Kept in memory (a tree) and written to
 * greylist.db in the process's own directory: a new file, fsynced, then
 * renamed over the old one, at most once a second, so a crash leaves
 * the old state or the new, and a restart loses at most the last
 * second.  Bounded: at most GREY_MAX triplets; when full, the oldest
 * unpassed ones go first.
 */

#include <sys/types.h>
#include <sys/tree.h>

#include <errno.h>
#include <event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "proto.h"
#include "smtpd.h"

#define GREY_MAX	200000
#define GREY_KEY_MAX	(PROTO_HOST_MAX + 2 * ADDR_MAX + 3)
#define GREY_FILE	"greylist.db"
#define GREY_TMP	"greylist.tmp"

struct grey {
	RB_ENTRY(grey)	 entry;
	time_t		 first;
	time_t		 passed;	/* 0: not yet */
	char		*key;		/* "net sender rcpt", after it */
};

RB_HEAD(grey_tree, grey);

static int	grey_cmp(struct grey *, struct grey *);
RB_PROTOTYPE(grey_tree, grey, entry, grey_cmp);

static int
grey_cmp(struct grey *a, struct grey *b)
{
	return strcmp(a->key, b->key);
}

RB_GENERATE(grey_tree, grey, entry, grey_cmp);

static struct grey_tree	 greys = RB_INITIALIZER(&greys);
static size_t		 ngreys;
static int		 grey_dirfd = -1;
static struct event	 grey_save_ev;
static int		 grey_dirty;

static struct grey *
grey_insert(const char *key, time_t first, time_t passed)
{
	struct grey	*g;
	size_t		 len = strlen(key);

	if (ngreys >= GREY_MAX || (g = malloc(sizeof(*g) + len + 1)) == NULL)
		return NULL;
	g->key = (char *)(g + 1);
	memcpy(g->key, key, len + 1);
	g->first = first;
	g->passed = passed;
	if (RB_INSERT(grey_tree, &greys, g) != NULL) {
		free(g);
		return NULL;
	}
	ngreys++;
	return g;
}

static void
grey_remove(struct grey *g)
{
	RB_REMOVE(grey_tree, &greys, g);
	ngreys--;
	free(g);
}

/* Forget what can no longer pass or be passing. */
static void
grey_expire(time_t now)
{
	struct grey	*g, *next;

	RB_FOREACH_SAFE(g, grey_tree, &greys, next) {
		if (g->passed != 0 ?
		    now - g->passed > (time_t)smtpd_conf->grey_expire :
		    now - g->first > (time_t)smtpd_conf->grey_retry)
			grey_remove(g);
	}
}

static void
grey_save(int fd, short ev, void *arg)
{
	struct grey	*g;
	FILE		*f;
	int		 tfd;

	grey_dirty = 0;
	grey_expire(time(NULL));
	if ((tfd = openat(grey_dirfd, GREY_TMP, O_WRONLY | O_CREAT | O_TRUNC |
	    O_CLOEXEC, 0600)) == -1 || (f = fdopen(tfd, "w")) == NULL) {
		log_warn("greylist: %s", GREY_TMP);
		if (tfd != -1)
			close(tfd);
		return;
	}
	RB_FOREACH(g, grey_tree, &greys)
		fprintf(f, "%lld %lld %s\n", (long long)g->first,
		    (long long)g->passed, g->key);
	if (fflush(f) == EOF || fsync(fileno(f)) == -1) {
		log_warn("greylist: writing %s", GREY_TMP);
		fclose(f);
		return;
	}
	if (fclose(f) == EOF ||
	    renameat(grey_dirfd, GREY_TMP, grey_dirfd, GREY_FILE) == -1)
		log_warn("greylist: %s", GREY_FILE);
}

static void
grey_changed(void)
{
	struct timeval	 tv = { 1, 0 };

	if (!grey_dirty) {
		grey_dirty = 1;
		evtimer_add(&grey_save_ev, &tv);
	}
}

/* At exit: what changed in the last second too. */
void
grey_flush(void)
{
	if (grey_dirty && grey_dirfd != -1) {
		evtimer_del(&grey_save_ev);
		grey_save(-1, 0, NULL);
	}
}

/* The saved state, from the directory dirfd (opened before the drop). */
void
grey_init(int dirfd)
{
	FILE		*f;
	char		 line[GREY_KEY_MAX + 64], key[GREY_KEY_MAX + 1];
	long long	 first, passed;
	size_t		 bad = 0;
	int		 fd;

	grey_dirfd = dirfd;
	evtimer_set(&grey_save_ev, grey_save, NULL);
	if ((fd = openat(dirfd, GREY_FILE, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno != ENOENT)
			log_warn("greylist: %s", GREY_FILE);
		return;
	}
	if ((f = fdopen(fd, "r")) == NULL) {
		close(fd);
		return;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%lld %lld %642[^\n]", &first, &passed,
		    key) != 3 || grey_insert(key, first, passed) == NULL)
			bad++;
	}
	fclose(f);
	if (bad > 0)
		log_warnx("greylist: %zu bad lines of %s skipped", bad,
		    GREY_FILE);
	grey_expire(time(NULL));
	log_debug("greylist: %zu triplets", ngreys);
}

/*
 * Check a triplet: 1 if it passes, else 0 with the seconds to wait in
 * *wait.  A store that is full lets mail through: greylisting is a
 * delay, never a refusal.
 */
int
grey_check(const char *net, const char *sender, const char *rcpt,
    uint32_t *wait)
{
	struct grey	 lk, *g;
	char		 k[GREY_KEY_MAX + 1];
	time_t		 now = time(NULL);

	*wait = 0;
	if (snprintf(k, sizeof(k), "%s %s %s", net, sender[0] ? sender : "<>",
	    rcpt) >= (int)sizeof(k) || strchr(k, '\n') != NULL)
		return 1;
	/* A lookup key: the tree compares the keys only. */
	lk.key = k;
	g = RB_FIND(grey_tree, &greys, &lk);
	if (g != NULL && g->passed != 0 &&
	    now - g->passed <= (time_t)smtpd_conf->grey_expire) {
		g->passed = now;
		grey_changed();
		return 1;
	}
	if (g != NULL && g->passed == 0 &&
	    now - g->first > (time_t)smtpd_conf->grey_retry) {
		/* Came back too late: a new first attempt. */
		g->first = now;
		grey_changed();
	} else if (g != NULL && g->passed == 0 &&
	    now - g->first > (time_t)smtpd_conf->grey_delay) {
		/* More than the delay: the clock counts whole seconds. */
		g->passed = now;
		grey_changed();
		return 1;
	} else if (g != NULL && g->passed != 0) {
		g->first = now;
		g->passed = 0;
		grey_changed();
	} else if (g == NULL) {
		if (ngreys >= GREY_MAX)
			grey_expire(now);
		if (grey_insert(k, now, 0) == NULL)
			return 1;
		grey_changed();
		*wait = smtpd_conf->grey_delay + 1;
		return 0;
	}
	*wait = smtpd_conf->grey_delay + 1 - (now - g->first);
	return 0;
}
