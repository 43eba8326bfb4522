/*
 * tsambactl health: where the mail lives.  Each table of tsamba.conf
 * answers its lookup the way authd asks it (a mysql table connects and
 * runs its configured queries; a file table is read), the domains table
 * also gives the hosted domains whose DNS ctl_health_domain.c checks;
 * and the file systems of the spool and the mail root have room: WARN
 * under HEALTH_SPACE_WARN_PCT percent of blocks or inodes free (as
 * unprivileged users see them: the daemons write as such), FAIL under
 * HEALTH_SPACE_FAIL_PCT.
 */

#include <sys/types.h>
#include <sys/statvfs.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "ctl.h"
#include "ctl_backend.h"
#include "ctl_health.h"

#define HEALTH_SPACE_WARN_PCT	10
#define HEALTH_SPACE_FAIL_PCT	5

struct domain_walk {
	struct health	*h;
	size_t		 n;
	int		 error;
};

static int
domain_row(void *arg, const char *key, const char *value)
{
	struct domain_walk	*w = arg;
	struct health		*h = w->h;
	char			**v;

	w->n++;
	if (h->ndomains >= HEALTH_DOMAINS_MAX)
		return 0;
	if ((v = reallocarray(h->domains, h->ndomains + 1,
	    sizeof(*v))) == NULL) {
		w->error = 1;
		return 1;
	}
	h->domains = v;
	if ((v[h->ndomains] = strdup(key)) == NULL) {
		w->error = 1;
		return 1;
	}
	h->ndomains++;
	return 0;
}

static int
any_row(void *arg, const char *key, const char *value)
{
	return 0;
}

/*
 * One table: opened and asked as authd would ask it.  The domains are
 * listed (their DNS is checked later) unless the command line named
 * some; users and aliases are asked for the postmaster of the first
 * domain, which runs the lookup query whether or not it has a row.
 */
static void
table_check(struct health *h, enum ctl_tab id, const struct conf_table *ct)
{
	struct domain_walk	 w = { h, 0, 0 };
	struct table		*t;
	char			 name[64], err[HEALTH_DETAIL_MAX];
	char			 probe[CTL_KEY_MAX];
	const char		*backend;
	int			 r;

	snprintf(name, sizeof(name), "table %s", table_name(id));
	if (ct->backend == TABLE_NONE) {
		health_add(h, id == TAB_USERS ? HEALTH_FAIL : HEALTH_WARN,
		    name, "not in %s: it is empty", ctl->conffile);
		return;
	}
	backend = ct->backend == TABLE_MYSQL ? "mysql" : "file";
	snprintf(probe, sizeof(probe), "postmaster@%s", h->ndomains > 0 ?
	    h->domains[0] : h->conf->hostname);
	health_capture(err, sizeof(err));
	if ((t = table_open(h->conf, id, 0)) == NULL) {
		health_capture(NULL, 0);
		health_add(h, HEALTH_FAIL, name, "%s %s: %s", backend,
		    ct->path, err[0] ? err : "cannot be opened");
		return;
	}
	if (id == TAB_DOMAINS && !h->domains_known) {
		r = t->ops->rows(t, NULL, domain_row, &w);
		if (r == 0 && !w.error)
			h->domains_known = 1;
	} else if (id == TAB_DOMAINS)
		r = t->ops->rows(t, h->domains[0], any_row, NULL);
	else
		r = t->ops->rows(t, probe, any_row, NULL);
	table_close(t);
	health_capture(NULL, 0);
	if (r == -1 || w.error)
		health_add(h, HEALTH_FAIL, name, "%s %s: %s", backend,
		    ct->path, err[0] ? err : "lookup failed");
	else if (id == TAB_DOMAINS && w.n == 0 && h->ndomains == 0)
		health_add(h, HEALTH_WARN, name, "%s %s: no hosted domain",
		    backend, ct->path);
	else if (id == TAB_DOMAINS && w.n > 0)
		health_add(h, HEALTH_OK, name, "%s %s: %zu domains", backend,
		    ct->path, w.n);
	else
		health_add(h, HEALTH_OK, name, "%s %s: answers", backend,
		    ct->path);
}

void
health_tables(struct health *h)
{
	table_check(h, TAB_DOMAINS, &h->conf->domains);
	table_check(h, TAB_USERS, &h->conf->users);
	table_check(h, TAB_ALIASES, &h->conf->aliases);
}

/* "3.2 GiB" */
static void
human_size(unsigned long long bytes, char *buf, size_t bufsz)
{
	const char	*units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double		 v = bytes;
	size_t		 i = 0;

	while (v >= 1024 && i < sizeof(units) / sizeof(units[0]) - 1) {
		v /= 1024;
		i++;
	}
	snprintf(buf, bufsz, "%.1f %s", v, units[i]);
}

static void
space_check(struct health *h, const char *what, const char *path)
{
	struct statvfs		 sv;
	enum health_status	 st = HEALTH_OK;
	char			 name[64], size[32];
	double			 bpct, ipct = 100;

	snprintf(name, sizeof(name), "space %s", what);
	if (statvfs(path, &sv) == -1) {
		health_add(h, HEALTH_FAIL, name, "%s: %s", path,
		    strerror(errno));
		return;
	}
	bpct = sv.f_blocks ? 100.0 * sv.f_bavail / sv.f_blocks : 100;
	/* Some file systems (btrfs) have no inode count: 0 files. */
	if (sv.f_files > 0)
		ipct = 100.0 * sv.f_favail / sv.f_files;
	if (bpct < HEALTH_SPACE_FAIL_PCT || ipct < HEALTH_SPACE_FAIL_PCT)
		st = HEALTH_FAIL;
	else if (bpct < HEALTH_SPACE_WARN_PCT ||
	    ipct < HEALTH_SPACE_WARN_PCT)
		st = HEALTH_WARN;
	human_size((unsigned long long)sv.f_bavail * sv.f_frsize, size,
	    sizeof(size));
	if (st == HEALTH_OK)
		health_add(h, st, name, "%s: %s free (%.0f%%), inodes %.0f%% "
		    "free", path, size, bpct, ipct);
	else
		health_add(h, st, name, "%s: %s free (%.0f%%), inodes %.0f%% "
		    "free: under %d%%", path, size, bpct, ipct,
		    st == HEALTH_WARN ? HEALTH_SPACE_WARN_PCT :
		    HEALTH_SPACE_FAIL_PCT);
}

void
health_space(struct health *h)
{
	space_check(h, "spool", h->conf->spool);
	space_check(h, "mailroot", h->conf->mailroot);
}
