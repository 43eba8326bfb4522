/*
 * Passwords: "tsambactl pw", which prints a hash the way doveadm pw
 * does, and the password input every command shares: from the terminal
 * twice without echo, or one line from a pipe.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <readpassphrase.h>

#include "passwd.h"
#include "ctl.h"

static int
pw_from_tty(char *out, size_t outsz)
{
	char	 again[PASSWD_MAX + 2];
	int	 rv = 0;

	if (readpassphrase("Password: ", out, outsz, RPP_REQUIRE_TTY) ==
	    NULL ||
	    readpassphrase("Again: ", again, sizeof(again),
	    RPP_REQUIRE_TTY) == NULL) {
		ctl_warn("cannot read the password");
		rv = -1;
	} else if (strcmp(out, again) != 0) {
		ctl_warnx("the passwords do not match");
		rv = -1;
	}
	explicit_bzero(again, sizeof(again));
	return rv;
}

/* One line; a password of PASSWD_MAX bytes fits, a longer one fails. */
static int
pw_from_stdin(char *out, size_t outsz)
{
	size_t	 len;

	if (fgets(out, outsz, stdin) == NULL) {
		ctl_warnx("no password on standard input");
		return -1;
	}
	len = strlen(out);
	if (len > 0 && out[len - 1] == '\n')
		out[--len] = '\0';
	else if (!feof(stdin)) {
		ctl_warnx("password longer than %d bytes", PASSWD_MAX);
		return -1;
	}
	if (len > 0 && out[len - 1] == '\r')
		out[--len] = '\0';
	return 0;
}

/* "-" read from the terminal (twice) or from stdin (once); 0 or -1. */
static int
pw_input(char *out, size_t outsz)
{
	int	 rv;

	if (isatty(STDIN_FILENO))
		rv = pw_from_tty(out, outsz);
	else
		rv = pw_from_stdin(out, outsz);
	if (rv == 0 && *out == '\0') {
		ctl_warnx("empty password");
		rv = -1;
	}
	return rv;
}

int
pw_read(const char *arg, char *out, size_t outsz)
{
	if (strcmp(arg, "-") == 0)
		return pw_input(out, outsz);
	if (strlcpy(out, arg, outsz) >= outsz) {
		ctl_warnx("password longer than %d bytes", PASSWD_MAX);
		return -1;
	}
	if (*out == '\0') {
		ctl_warnx("empty password");
		return -1;
	}
	return 0;
}

int
cmd_pw(int argc, char *argv[])
{
	char		 pw[PASSWD_MAX + 2], hash[PASSWD_HASH_MAX];
	const char	*scheme = "SHA512-CRYPT", *arg = "-";
	int		 ch, rv = -1;

	while ((ch = getopt(argc, argv, "p:s:")) != -1) {
		switch (ch) {
		case 'p':
			arg = optarg;
			break;
		case 's':
			scheme = optarg;
			break;
		default:
			ctl_usage();
		}
	}
	if (optind != argc)
		ctl_usage();
	if (pw_read(arg, pw, sizeof(pw)) == -1)
		goto done;
	if (passwd_hash(scheme, pw, hash, sizeof(hash)) == -1) {
		ctl_warnx("cannot hash with scheme %s (known: SHA512-CRYPT, "
		    "SHA256-CRYPT, BLF-CRYPT, ARGON2ID)", scheme);
		goto done;
	}
	printf("%s\n", hash);
	rv = 0;
 done:
	explicit_bzero(pw, sizeof(pw));
	return rv;
}
