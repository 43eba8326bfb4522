/*
 * One backend per table, as tsamba.conf chooses: each lookup goes to the
 * file tables (under their read lock) or to MariaDB (over the calling
 * worker's own connection).  The lookups above see only TABLE_FOUND,
 * TABLE_NOTFOUND and TABLE_TEMPFAIL.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sqlconf.h"
#include "authd.h"

static enum table_backend	 b_domains, b_users, b_aliases;
static struct sqlconf		 sqlconf;
static int			 have_mysql;

/*
 * Every mysql table names the same connection file: one pool of
 * connections serves them all.
 */
static int
mysql_path(const struct conf *conf, const char **path)
{
	const struct conf_table	*t[3] = {
		&conf->domains, &conf->users, &conf->aliases
	};
	int			 i;

	*path = NULL;
	for (i = 0; i < 3; i++) {
		if (t[i]->backend != TABLE_MYSQL)
			continue;
		if (*path != NULL && strcmp(*path, t[i]->path) != 0) {
			log_warnx("the mysql tables name different connection "
			    "files (%s, %s): use one", *path, t[i]->path);
			return -1;
		}
		*path = t[i]->path;
	}
	return 0;
}

/*
 * Every table is on MariaDB over TCP to a numeric address: authd needs
 * nothing from the file system (no socket, no resolver files) and can
 * live in an empty chroot.
 */
int
table_all_mysql_tcp(const struct conf *conf)
{
	struct in6_addr	 a6;
	struct in_addr	 a4;

	if (conf->domains.backend != TABLE_MYSQL ||
	    conf->users.backend != TABLE_MYSQL ||
	    conf->aliases.backend != TABLE_MYSQL || !have_mysql)
		return 0;
	if (sqlconf.socket[0] != '\0')
		return 0;
	return inet_pton(AF_INET, sqlconf.host, &a4) == 1 ||
	    inet_pton(AF_INET6, sqlconf.host, &a6) == 1;
}

/*
 * Before the privilege drop: the connection file holds a password and
 * may be readable by root only.
 */
int
table_config(const struct conf *conf)
{
	const char	*path;

	b_domains = conf->domains.backend;
	b_users = conf->users.backend;
	b_aliases = conf->aliases.backend;
	if (mysql_path(conf, &path) == -1)
		return -1;
	if (path == NULL)
		return 0;
	if (mysql_backend_init(path, &sqlconf) == -1)
		return -1;
	have_mysql = 1;
	authd->nworkers = sqlconf.pool;
	return 0;
}

/* After the drop: the file tables, and one check of the queries. */
int
table_init(const struct conf *conf)
{
	int	 rv = 0;

	if (file_init(conf) == -1)
		rv = -1;
	/* Connect and prepare once: a wrong query stops us here. */
	if (have_mysql && mysql_backend_check(conf) == -1)
		rv = -1;
	return rv;
}

void
table_thread_start(void)
{
	if (have_mysql)
		mysql_thread_start();
}

void
table_thread_stop(void)
{
	if (have_mysql)
		mysql_thread_stop();
}

int
table_domain(const char *domain)
{
	int	 found;

	if (b_domains == TABLE_MYSQL)
		return mysql_domain(domain);
	file_rdlock();
	found = file_domain_exists(domain);
	file_unlock();
	return found ? TABLE_FOUND : TABLE_NOTFOUND;
}

int
table_user(const char *key, struct table_user *u)
{
	struct file_user	 fu;
	int			 rv = TABLE_NOTFOUND;

	memset(u, 0, sizeof(*u));
	if (b_users == TABLE_MYSQL)
		return mysql_user(key, u);
	file_rdlock();
	if (file_user_find(key, &fu) == 0) {
		rv = TABLE_FOUND;
		strlcpy(u->canon, key, sizeof(u->canon));
		u->has_uid = fu.has_uid;
		u->has_gid = fu.has_gid;
		u->uid = fu.uid;
		u->gid = fu.gid;
		u->bad_home = fu.bad_home;
		u->has_quota = fu.has_quota;
		u->quota = fu.quota;
		if (fu.maildir != NULL)
			strlcpy(u->maildir, fu.maildir, sizeof(u->maildir));
		if (fu.hash != NULL &&
		    strlcpy(u->hash, fu.hash, sizeof(u->hash)) >=
		    sizeof(u->hash))
			u->hash[0] = '\0';	/* no login with a cut hash */
	}
	file_unlock();
	return rv;
}

int
table_alias(const char *key, struct table_alias *a)
{
	struct file_alias	 fa;
	int			 rv = TABLE_NOTFOUND;

	memset(a, 0, sizeof(*a));
	if (b_aliases == TABLE_MYSQL)
		return mysql_alias(key, a);
	file_rdlock();
	if (file_alias_find(key, &fa) == 0) {
		/* A copy: the table may be swapped once the lock is gone. */
		if (fa.ndests > 0 && (a->dests = calloc(fa.ndests,
		    sizeof(*a->dests))) == NULL) {
			file_unlock();
			log_warn("%s", __func__);
			return TABLE_TEMPFAIL;
		}
		if (fa.ndests > 0)
			memcpy(a->dests, fa.dests,
			    fa.ndests * sizeof(*a->dests));
		a->ndests = fa.ndests;
		rv = TABLE_FOUND;
	}
	file_unlock();
	return rv;
}

void
table_alias_free(struct table_alias *a)
{
	free(a->dests);
	a->dests = NULL;
	a->ndests = 0;
}

void
table_free(void)
{
	file_free();
	if (have_mysql)
		mysql_backend_free();
	explicit_bzero(&sqlconf, sizeof(sqlconf));
}
