/*
 * tsambactl domain: list, add and del hosted domains.  del refuses while
 * users or aliases of the domain remain (as sources or destinations):
 * removing the domain under them would turn local mail into relayed
 * mail.  There is no --force; delete them first.
 */

#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "ctl_backend.h"

static int
print_domain(void *arg, const char *key, const char *value)
{
	printf("%s\n", key);
	return 0;
}

static int
domain_list(int argc, char *argv[])
{
	struct table	*t;
	int		 rv;

	if (argc != 1)
		ctl_usage();
	if ((t = table_open(ctl_conf(), TAB_DOMAINS, 0)) == NULL)
		return -1;
	rv = t->ops->rows(t, NULL, print_domain, NULL);
	table_close(t);
	return rv;
}

static int
domain_add(int argc, char *argv[])
{
	struct table	*t;
	char		 d[CTL_KEY_MAX];
	int		 r, rv = -1;

	if (argc != 2)
		ctl_usage();
	if (name_domain(argv[1], d, sizeof(d)) == -1)
		return -1;
	if ((t = table_open(ctl_conf(), TAB_DOMAINS, 1)) == NULL)
		return -1;
	if ((r = table_has(t, d)) == 1)
		ctl_warnx("domain %s is already hosted", d);
	else if (r == 0 && t->ops->add(t, d, NULL) == 0 &&
	    table_commit(t) == 0)
		rv = 0;
	if (rv == -1)
		table_rollback(t);
	table_close(t);
	return rv;
}

/* An address or "@domain" of that domain? */
static int
in_domain(const char *addr, const char *domain)
{
	const char	*at;

	return addr != NULL && (at = strrchr(addr, '@')) != NULL &&
	    strcasecmp(at + 1, domain) == 0;
}

struct uses {
	const char	*domain;
	size_t		 users;
	size_t		 aliases;
};

static int
count_user(void *arg, const char *key, const char *value)
{
	struct uses	*u = arg;

	if (in_domain(key, u->domain))
		u->users++;
	return 0;
}

static int
count_alias(void *arg, const char *key, const char *value)
{
	struct uses	*u = arg;

	if (in_domain(key, u->domain) || in_domain(value, u->domain))
		u->aliases++;
	return 0;
}

/* Users and aliases still using the domain; -1 on error. */
static int
domain_uses(const struct conf *conf, struct uses *u)
{
	struct table	*t;
	int		 rv = 0;

	if (conf->users.backend != TABLE_NONE) {
		if ((t = table_open(conf, TAB_USERS, 0)) == NULL)
			return -1;
		rv = t->ops->rows(t, NULL, count_user, u);
		table_close(t);
	}
	if (rv == 0 && conf->aliases.backend != TABLE_NONE) {
		if ((t = table_open(conf, TAB_ALIASES, 0)) == NULL)
			return -1;
		rv = t->ops->rows(t, NULL, count_alias, u);
		table_close(t);
	}
	return rv;
}

static int
domain_del(int argc, char *argv[])
{
	struct conf	*conf = ctl_conf();
	struct table	*t;
	struct uses	 u;
	char		 d[CTL_KEY_MAX];
	int		 n, rv = -1;

	if (argc != 2)
		ctl_usage();
	if (name_domain(argv[1], d, sizeof(d)) == -1)
		return -1;
	if ((t = table_open(conf, TAB_DOMAINS, 1)) == NULL)
		return -1;
	memset(&u, 0, sizeof(u));
	u.domain = d;
	if ((n = table_has(t, d)) != 1) {
		if (n == 0)
			ctl_warnx("domain %s is not hosted", d);
	} else if (domain_uses(conf, &u) == -1)
		;
	else if (u.users > 0 || u.aliases > 0)
		ctl_warnx("domain %s still has %zu users and %zu aliases; "
		    "delete them first", d, u.users, u.aliases);
	else if (t->ops->del(t, d, NULL) > 0 && table_commit(t) == 0)
		rv = 0;
	if (rv == -1)
		table_rollback(t);
	table_close(t);
	return rv;
}

int
cmd_domain(int argc, char *argv[])
{
	static const struct ctl_subcmd	 subs[] = {
		{ "list", "domain list", domain_list },
		{ "add", "domain add", domain_add },
		{ "del", "domain del", domain_del },
		{ NULL, NULL, NULL }
	};

	return ctl_subcmd(argc, argv, subs);
}
