/*
 * tsambactl user: list, add, passwd and del mailboxes.  A password is
 * generated unless the administrator gives one, which must then pass the
 * policy of passwd.h; it is stored as {SHA512-CRYPT}.  add leaves either
 * a user with its Maildir or nothing: the Maildir is made first, and
 * removed again if the row cannot be committed.
 */

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "maildir.h"
#include "passwd.h"
#include "ctl.h"
#include "ctl_backend.h"

#define GENERATED_LEN	20

struct pwopt {
	char	 pw[PASSWD_MAX + 2];
	char	 hash[PASSWD_HASH_MAX];
	int	 generated;
};

static int
user_list(int argc, char *argv[])
{
	return table_list(TAB_USERS, 0, argc, argv);
}

/* The password of -p (checked against the policy) or a new one. */
static int
pw_choose(const char *arg, struct pwopt *p)
{
	const char	*why;

	if (arg == NULL) {
		if (passwd_generate(p->pw, sizeof(p->pw), GENERATED_LEN) ==
		    -1) {
			ctl_warnx("cannot generate a password");
			return -1;
		}
		p->generated = 1;
	} else {
		if (pw_read(arg, p->pw, sizeof(p->pw)) == -1)
			return -1;
		if ((why = passwd_policy_check(p->pw)) != NULL) {
			ctl_warnx("password refused: %s (at least %d "
			    "characters with upper- and lower-case letters, "
			    "digits and special characters)", why,
			    PASSWD_MIN_POLICY);
			return -1;
		}
	}
	if (passwd_hash("SHA512-CRYPT", p->pw, p->hash, sizeof(p->hash)) ==
	    -1) {
		ctl_warnx("cannot hash the password");
		return -1;
	}
	return 0;
}

/* "address [-p password]" of add and passwd; argv[1] is the address. */
static int
user_args(int argc, char *argv[], const char **addr, const char **pwarg)
{
	int	 ch;

	*pwarg = NULL;
	while ((ch = getopt(argc, argv, "p:")) != -1) {
		switch (ch) {
		case 'p':
			*pwarg = optarg;
			break;
		default:
			ctl_usage();
		}
	}
	if (argc - optind != 1)
		ctl_usage();
	*addr = argv[optind];
	return 0;
}

static void
pw_done(struct pwopt *p, int ok)
{
	/* Printed once, only when it was stored. */
	if (ok && p->generated)
		printf("%s\n", p->pw);
	explicit_bzero(p, sizeof(*p));
}

static int
user_add(int argc, char *argv[])
{
	struct conf	*conf = ctl_conf();
	struct ctl_addr	 a;
	struct pwopt	 p;
	struct table	*t = NULL;
	const char	*addr, *pwarg;
	int		 r, md = -1, rv = -1;

	memset(&p, 0, sizeof(p));
	user_args(argc, argv, &addr, &pwarg);
	if (name_address(addr, &a) == -1)
		return -1;
	if (ctl_maildir_name_ok(a.domain, a.local) == -1) {
		ctl_warnx("%s cannot be a Maildir name", a.key);
		return -1;
	}
	if ((r = domain_hosted(conf, a.domain)) != 1) {
		if (r == 0)
			ctl_warnx("domain %s is not hosted", a.domain);
		return -1;
	}
	if (pw_choose(pwarg, &p) == -1)
		goto done;
	if ((t = table_open(conf, TAB_USERS, 1)) == NULL)
		goto done;
	if ((r = table_has(t, a.key)) != 0) {
		if (r == 1)
			ctl_warnx("user %s already exists", a.key);
		goto done;
	}
	if ((md = ctl_maildir_create(conf, a.domain, a.local)) == -1)
		goto done;
	if (t->ops->add(t, a.key, p.hash) == -1 || table_commit(t) == -1) {
		table_rollback(t);
		/* A Maildir that was there (kept mail) stays. */
		if (md == MAILDIR_CREATED &&
		    ctl_maildir_remove(conf, a.domain, a.local) == 0)
			ctl_warnx("user %s not added, Maildir removed", a.key);
		else
			ctl_warnx("user %s not added", a.key);
		goto done;
	}
	if (md == MAILDIR_EXISTED)
		fprintf(stderr, "tsambactl: user add: note: %s keeps the "
		    "mail already in its Maildir\n", a.key);
	rv = 0;
 done:
	table_close(t);
	pw_done(&p, rv == 0);
	return rv;
}

static int
user_passwd(int argc, char *argv[])
{
	struct ctl_addr	 a;
	struct pwopt	 p;
	struct table	*t = NULL;
	const char	*addr, *pwarg;
	int		 r, rv = -1;

	memset(&p, 0, sizeof(p));
	user_args(argc, argv, &addr, &pwarg);
	if (name_address(addr, &a) == -1)
		return -1;
	if ((t = table_open(ctl_conf(), TAB_USERS, 1)) == NULL)
		goto done;
	if ((r = table_has(t, a.key)) != 1) {
		if (r == 0)
			ctl_warnx("no user %s", a.key);
		goto done;
	}
	if (pw_choose(pwarg, &p) == -1)
		goto done;
	if (t->ops->update(t, a.key, p.hash) == -1 || table_commit(t) == -1) {
		table_rollback(t);
		goto done;
	}
	rv = 0;
 done:
	table_close(t);
	pw_done(&p, rv == 0);
	return rv;
}

static int
user_del(int argc, char *argv[])
{
	static const struct option	 longopts[] = {
		{ "purge", no_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 }
	};
	struct conf			*conf = ctl_conf();
	struct ctl_addr			 a;
	struct table			*t;
	int				 ch, purge = 0, n;

	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'P':
			purge = 1;
			break;
		default:
			ctl_usage();
		}
	}
	if (argc - optind != 1)
		ctl_usage();
	if (name_address(argv[optind], &a) == -1)
		return -1;
	if ((t = table_open(conf, TAB_USERS, 1)) == NULL)
		return -1;
	if ((n = t->ops->del(t, a.key, NULL)) <= 0 || table_commit(t) == -1) {
		if (n == 0)
			ctl_warnx("no user %s", a.key);
		table_rollback(t);
		table_close(t);
		return -1;
	}
	table_close(t);
	/* The row is gone first: no delivery into a half-removed tree. */
	if (purge && ctl_maildir_name_ok(a.domain, a.local) == 0 &&
	    ctl_maildir_remove(conf, a.domain, a.local) == -1) {
		ctl_warnx("user %s deleted, but its Maildir is left", a.key);
		return -1;
	}
	return 0;
}

int
cmd_user(int argc, char *argv[])
{
	static const struct ctl_subcmd	 subs[] = {
		{ "list", "user list", user_list },
		{ "add", "user add", user_add },
		{ "passwd", "user passwd", user_passwd },
		{ "del", "user del", user_del },
		{ NULL, NULL, NULL }
	};

	return ctl_subcmd(argc, argv, subs);
}
