/*
 * The tsamba.conf grammar and its lexer: reads a file (and the files it
 * includes) into a struct conf.  The grammar is described in conf.h and
 * tsamba.conf(5).  Errors are printed as "file:line: message" and the
 * whole parse fails; nothing half-read is handed to a daemon.
 *
 * The lexer keeps its state in statics, set up afresh by every
 * conf_parse() call so a daemon can read the file again on SIGHUP.
 */

%{
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <netdb.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tls.h>
#include <unistd.h>

#include "addr.h"
#include "conf.h"
#include "conf_priv.h"

#define INCLUDE_DEPTH_MAX	8		/* files open at once */
#define FILE_SIZE_MAX		(1024 * 1024)	/* per file */
#define TOKEN_MAX		PATH_MAX	/* longest word, string */
#define PUSHBACK_MAX		8192		/* macro text */
#define EXPANSIONS_MAX		64		/* per line */
#define ERRORS_MAX		25		/* then give up */
#define MACRO_NAME_MAX		64

struct conf_file {
	TAILQ_ENTRY(conf_file)	 entry;
	FILE			*stream;
	char			*name;
	int			 lineno;
	int			 nl_pending;	/* count a newline */
	int			 at_eof;
	int			 eof_nl;	/* last newline sent */
};
TAILQ_HEAD(conf_file_list, conf_file);

struct conf_macro {
	TAILQ_ENTRY(conf_macro)	 entry;
	char			*name;
	char			*value;
};
TAILQ_HEAD(conf_macro_list, conf_macro);

/* Options of a listen statement, gathered in any order. */
struct listen_opts {
	int		 bad;		/* an error was reported */
	int		 flags;
	const char	*implicit;	/* "smtps", "imaps", "pop3s" or NULL */
	int		 port;		/* -1: not given */
	char		*pki;
	char		*ciphers;	/* NULL: the global list */
	struct conf_milter *milters[CONF_LISTEN_MILTERS];
	size_t		 nmilters;
	int		 check_tempfail;	/* -1: not given */
	int		 check_dmarc_reject;
	int		 check_iprev;
	int		 check_dnsbl_at;
};

/* Settings of the form "limit|timeout|queue NAME VALUE". */
struct knob {
	const char	*group;
	const char	*name;
	enum conf_unit	 unit;
	int64_t		 min;
	int64_t		 max;
	size_t		 off;
	size_t		 size;		/* of the field */
};

#define KNOB(g, n, u, lo, hi, f)					\
	{ g, n, u, lo, hi, offsetof(struct conf, f),			\
	    sizeof(((struct conf *)NULL)->f) }

static const struct knob knobs[] = {
	KNOB("mta", "max-connections", CONF_UNIT_COUNT, 1, 10000,
	    mta_max_conns),
	KNOB("mta", "max-connections-per-domain", CONF_UNIT_COUNT, 1, 10000,
	    mta_max_conns_domain),
	KNOB("limit", "message-size", CONF_UNIT_SIZE, 1024,
	    1024 * 1024 * 1024, max_message_size),
	KNOB("limit", "recipients", CONF_UNIT_COUNT, 1, 10000, max_rcpts),
	KNOB("limit", "sessions", CONF_UNIT_COUNT, 1, 100000, max_sessions),
	KNOB("limit", "sessions-per-ip", CONF_UNIT_COUNT, 1, 100000,
	    max_sessions_per_ip),
	KNOB("limit", "line-length", CONF_UNIT_COUNT, 512, 65536, max_line),
	KNOB("limit", "lmtp-writers", CONF_UNIT_COUNT, 1, 10000,
	    lmtp_max_writers),
	KNOB("limit", "imap-sessions", CONF_UNIT_COUNT, 1, 100000,
	    imap_max_sessions),
	KNOB("limit", "imap-sessions-per-ip", CONF_UNIT_COUNT, 1, 100000,
	    imap_max_per_ip),
	KNOB("limit", "imap-sessions-per-user", CONF_UNIT_COUNT, 1, 100000,
	    imap_max_per_user),
	KNOB("timeout", "idle", CONF_UNIT_TIME, 1, 86400, timeout_idle),
	KNOB("timeout", "imap-idle", CONF_UNIT_TIME, 1, 86400,
	    imap_timeout_idle),
	KNOB("timeout", "imap-login", CONF_UNIT_TIME, 1, 3600,
	    imap_timeout_login),
	KNOB("timeout", "session", CONF_UNIT_TIME, 1, 7 * 86400,
	    timeout_session),
	KNOB("timeout", "lookup", CONF_UNIT_TIME, 1, 3600, timeout_lookup),
	KNOB("timeout", "lmtp-writer-idle", CONF_UNIT_TIME, 1, 86400,
	    lmtp_writer_idle),
	KNOB("queue", "lifetime", CONF_UNIT_TIME, 1, 30 * 86400,
	    queue_lifetime),
	KNOB("queue", "retry-min", CONF_UNIT_TIME, 1, 86400,
	    queue_retry_min),
	KNOB("queue", "retry-max", CONF_UNIT_TIME, 1, 7 * 86400,
	    queue_retry_max),
	KNOB("queue", "delay-warn", CONF_UNIT_TIME, 1, 30 * 86400,
	    queue_delay_warn),
	KNOB("queue", "lmtp-sessions", CONF_UNIT_COUNT, 1, 1024,
	    queue_lmtp_sessions),
	KNOB("ban", "max-failures", CONF_UNIT_COUNT, 1, 1000,
	    ban_max_failures),
	KNOB("ban", "window", CONF_UNIT_TIME, 1, 7 * 86400, ban_window),
	KNOB("ban", "duration", CONF_UNIT_TIME, 1, 365 * 86400,
	    ban_duration),
	KNOB("limit", "mailbox-size", CONF_UNIT_SIZE, 0, (int64_t)1 << 50,
	    mailbox_quota),
};

static struct conf		*conf;
static struct conf_file_list	 files;
static struct conf_file		*file;
static struct conf_macro_list	 macros;
static char			 pushbuf[PUSHBACK_MAX];
static size_t			 pushlen;
static int			 expansions;
static int			 errors;
static int			 give_up;
static int			 lex_reported;	/* lexer printed it */
static int			 tok_lineno;
static char			 tok_text[80];	/* for syntax errors */
static int			 tok_index;	/* in the statement */
static int			 tok_after_nl;
static char			 stmt_word[48];	/* unknown 1st word */
static struct listen_opts	 lopts;
static char			*pki_cert, *pki_key;

static int	 conf_yylex(void);
static void	 conf_yyerror(const char *);
static void	 conf_error(const char *, ...)
		    __attribute__((__format__ (printf, 1, 2)));
static int	 file_push(const char *);
static void	 file_pop(void);
static void	 macro_set(char *, char *);
static void	 set_path(char *, size_t, const char *, const char *);
static void	 set_string(char *, size_t, const char *, const char *);
static void	 set_postmaster(const char *);
static void	 set_user(const char *, const char *);
static void	 add_lmtp_allow(const char *);
static void	 set_table(const char *, const char *, const char *);
static void	 set_knob(const char *, const char *, const char *);
static void	 add_ban_never(const char *);
static int	 set_ban_prefix(const char *, const char *, int64_t);
static void	 add_pki(const char *);
static int	 ciphers_ok(const char *);
static void	 add_listen(struct conf_listen_list *, const char *, int,
		    const char *);
static void	 lopt_flag(int, const char *);
static void	 lopt_implicit(const char *);
static void	 set_resolver(const char *);
static void	 set_check(const char *, const char *);
static void	 set_grey(const char *, const char *);
static void	 add_dnsbl(struct conf_dnsbl *, size_t *, const char *,
		    const char *);
static void	 add_tls_verify(const char *, const char *, const char *);
static void	 set_relay(const char *, const char *);
static void	 add_dkim(const char *, const char *, const char *,
		    const char *, const char *, const char *);

static void	 add_milter(const char *, const char *);
static void	 lopt_milter(const char *);
static void	 lopt_check(const char *, const char *);
static void	 lopt_checks_reset(void);
static int	 lopt_checks_given(void);

/* Options of a milter statement. */
static struct {
	int		 bad;
	unsigned int	 timeout;	/* s, 0: not given */
	int		 on_failure;	/* MILTER_FAIL_*, -1: not given */
} mopts;

/* Options of a relay statement, gathered in any order. */
static struct {
	int		 bad;
	int		 port;		/* -1: not given */
	int		 tls;		/* RELAY_*, 0: not given */
	char		 secret[PATH_MAX];
} ropts;
%}

%define api.prefix {conf_yy}

%union {
	int64_t	 number;
	char	*string;
}

%token	ALLOW AUTH BAN CERT CHROOT CIPHERS HIDECLIENT HOSTNAME INCLUDE KEY
%token	LIMIT LISTEN
%token	LMTP MAILROOT ON PKI PORT POSTMASTER QUEUE RUNDIR SMTPS SOCKET SPOOL
%token	STATEDIR
%token	TABLE TIMEOUT TLS TLSREQUIRE USER ERROR
%token	IMAP IMAPS PLAINTEXT POP3 POP3S
%token	DKIM MTA RELAY METRICS CHECK SPF DMARC DNSBL GREYLIST
%token	MILTER MILTERAUTH ONFAILURE IPREV
%token	<string>	STRING
%token	<number>	NUMBER
%type	<string>	value userkind
%type	<string>	dkimalg
%destructor		{ free($$); } <string>

%%

grammar		: %empty
		| grammar '\n'
		| grammar INCLUDE STRING '\n' {
			/*
			 * The '\n' is part of the rule so that the new file
			 * is read from the very next token on.
			 */
			(void)file_push($3);
			free($3);
		}
		| grammar main '\n'
		| grammar error '\n'		{ yyerrok; }
		;

main		: STRING '=' value		{ macro_set($1, $3); }
		| MTA STRING value {
			if (strcmp($2, "resolver") == 0)
				set_resolver($3);
			else
				set_knob("mta", $2, $3);
			free($2);
			free($3);
		}
		| CHECK STRING value {
			set_check($2, $3);
			free($2);
			free($3);
		}
		| CHECK DNSBL value {
			/* "dnsbl" is also a listen option. */
			set_check("dnsbl", $3);
			free($3);
		}
		| MTA PORT NUMBER {
			if ($3 < 1 || $3 > 65535)
				conf_error("mta port %lld out of range (1 to "
				    "65535)", (long long)$3);
			else
				conf->mta_port = $3;
		}
		| MTA TLS STRING STRING STRING {
			add_tls_verify($3, $4, $5);
			free($3);
			free($4);
			free($5);
		}
		| RELAY STRING STRING ropts {
			set_relay($2, $3);
			free($2);
			free($3);
		}
		| DKIM STRING STRING STRING STRING KEY STRING dkimalg {
			add_dkim($2, $3, $4, $5, $7, $8);
			free($2);
			free($3);
			free($4);
			free($5);
			free($7);
			free($8);
		}
		| HOSTNAME STRING {
			if (!conf_hostname_valid($2))
				conf_error("invalid hostname \"%s\"", $2);
			else
				set_string(conf->hostname,
				    sizeof(conf->hostname), $2, "hostname");
			free($2);
		}
		| POSTMASTER STRING {
			set_postmaster($2);
			free($2);
		}
		| RUNDIR STRING {
			/* Room for the socket names after it. */
			if (strlen($2) + CONF_SOCKNAME_MAX >
			    conf_sun_path_max())
				conf_error("rundir too long for UNIX sockets: "
				    "%s", $2);
			else
				set_path(conf->rundir, sizeof(conf->rundir),
				    $2, "rundir");
			free($2);
		}
		| SPOOL STRING {
			set_path(conf->spool, sizeof(conf->spool), $2,
			    "spool");
			free($2);
		}
		| MAILROOT STRING {
			set_path(conf->mailroot, sizeof(conf->mailroot), $2,
			    "mailroot");
			free($2);
		}
		| CHROOT STRING {
			set_path(conf->chroot, sizeof(conf->chroot), $2,
			    "chroot");
			free($2);
		}
		| STATEDIR STRING {
			set_path(conf->statedir, sizeof(conf->statedir), $2,
			    "statedir");
			free($2);
		}
		| BAN STRING value {
			if (strcmp($2, "never") == 0)
				add_ban_never($3);
			else
				set_knob("ban", $2, $3);
			free($2);
			free($3);
		}
		| BAN STRING STRING NUMBER {
			set_ban_prefix($2, $3, $4);
			free($2);
			free($3);
		}
		| BAN STRING STRING NUMBER STRING NUMBER {
			if (set_ban_prefix($2, $3, $4) == 0)
				(void)set_ban_prefix($2, $5, $6);
			free($2);
			free($3);
			free($5);
		}
		| USER userkind STRING {
			set_user($2, $3);
			free($2);
			free($3);
		}
		| PKI STRING pkiopts {
			add_pki($2);
			free($2);
		}
		| TLS CIPHERS STRING {
			if (ciphers_ok($3))
				memcpy(conf->tls_ciphers, $3, strlen($3) + 1);
			free($3);
		}
		| TABLE STRING STRING STRING {
			set_table($2, $3, $4);
			free($2);
			free($3);
			free($4);
		}
		| MILTER STRING ON STRING mopts {
			add_milter($2, $4);
			free($2);
			free($4);
		}
		| LISTEN ON STRING lopts {
			add_listen(&conf->listens, $3, lopts.flags, lopts.pki);
			free($3);
		}
		| IMAP LISTEN ON STRING lopts {
			add_listen(&conf->imap_listens, $4, lopts.flags,
			    lopts.pki);
			free($4);
		}
		| POP3 LISTEN ON STRING lopts {
			add_listen(&conf->pop3_listens, $4, lopts.flags,
			    lopts.pki);
			free($4);
		}
		| LMTP LISTEN ON SOCKET lallow {
			conf->lmtp_socket[0] = '\0';	/* the default */
		}
		| LMTP LISTEN ON SOCKET STRING lallow {
			if (strlen($5) >= conf_sun_path_max())
				conf_error("lmtp socket path too long: %s", $5);
			else
				set_path(conf->lmtp_socket,
				    sizeof(conf->lmtp_socket), $5,
				    "lmtp socket");
			free($5);
		}
		| LMTP LISTEN ON STRING lopts {
			if (lopts.flags != 0 || lopts.pki != NULL ||
			    lopts.ciphers != NULL || lopt_checks_given())
				conf_error("an lmtp listener takes only a "
				    "port");
			else if (!lopts.bad)
				add_listen(&conf->lmtp_listens, $4, 0, NULL);
			free($4);
		}
		| METRICS LISTEN ON STRING lopts {
			if (lopts.flags != 0 || lopts.pki != NULL ||
			    lopts.ciphers != NULL || lopt_checks_given())
				conf_error("a metrics listener takes only a "
				    "port");
			else if (!lopts.bad)
				add_listen(&conf->metrics_listens, $4, 0,
				    NULL);
			free($4);
		}
		| LIMIT STRING value {
			set_knob("limit", $2, $3);
			free($2);
			free($3);
		}
		| TIMEOUT STRING value {
			set_knob("timeout", $2, $3);
			free($2);
			free($3);
		}
		| QUEUE STRING value {
			set_knob("queue", $2, $3);
			free($2);
			free($3);
		}
		| QUEUE LMTP STRING {
			if (strlen($3) >= conf_sun_path_max())
				conf_error("queue lmtp socket path too long: "
				    "%s", $3);
			else
				set_path(conf->queue_lmtp,
				    sizeof(conf->queue_lmtp), $3, "queue lmtp");
			free($3);
		}
		;

ropts		: %empty {
			memset(&ropts, 0, sizeof(ropts));
			ropts.port = -1;
		}
		| ropts ropt
		;

ropt		: PORT NUMBER {
			if (ropts.port != -1) {
				conf_error("relay port given twice");
				ropts.bad = 1;
			} else if ($2 < 1 || $2 > 65535) {
				conf_error("relay port %lld out of range (1 to "
				    "65535)", (long long)$2);
				ropts.bad = 1;
			} else
				ropts.port = $2;
		}
		| SMTPS {
			if (ropts.tls != 0) {
				conf_error("relay: smtps or starttls given "
				    "twice");
				ropts.bad = 1;
			}
			ropts.tls = RELAY_SMTPS;
		}
		| STRING {
			if (strcmp($1, "starttls") != 0) {
				conf_error("unknown relay option \"%s\" (port, "
				    "smtps, starttls or auth)", $1);
				ropts.bad = 1;
			} else if (ropts.tls != 0) {
				conf_error("relay: smtps or starttls given "
				    "twice");
				ropts.bad = 1;
			}
			ropts.tls = RELAY_STARTTLS;
			free($1);
		}
		| AUTH STRING {
			if (ropts.secret[0] != '\0') {
				conf_error("relay auth given twice");
				ropts.bad = 1;
			} else if ($2[0] != '/') {
				conf_error("relay auth: secret file must be an "
				    "absolute path: \"%s\"", $2);
				ropts.bad = 1;
			} else if (strlen($2) >= sizeof(ropts.secret)) {
				conf_error("relay auth: path too long");
				ropts.bad = 1;
			} else
				memcpy(ropts.secret, $2, strlen($2) + 1);
			free($2);
		}
		;

dkimalg		: %empty			{ $$ = NULL; }
		| STRING			{ $$ = $1; }
		;

/* A number keeps its text: its unit depends on the statement. */
value		: STRING			{ $$ = $1; }
		| NUMBER {
			if (asprintf(&$$, "%lld", (long long)$1) == -1) {
				conf_error("out of memory");
				YYERROR;
			}
		}
		;

/* "queue" and "auth" are keywords elsewhere. */
userkind	: STRING			{ $$ = $1; }
		| QUEUE {
			if (($$ = strdup("queue")) == NULL) {
				conf_error("out of memory");
				YYERROR;
			}
		}
		| AUTH {
			if (($$ = strdup("auth")) == NULL) {
				conf_error("out of memory");
				YYERROR;
			}
		}
		| METRICS {
			if (($$ = strdup("metrics")) == NULL) {
				conf_error("out of memory");
				YYERROR;
			}
		}
		| IMAP {
			if (($$ = strdup("imap")) == NULL) {
				conf_error("out of memory");
				YYERROR;
			}
		}
		| MTA {
			if (($$ = strdup("mta")) == NULL) {
				conf_error("out of memory");
				YYERROR;
			}
		}
		;

/* Users that may deliver over the LMTP socket besides root and the queue. */
lallow		: %empty
		| lallow ALLOW STRING {
			add_lmtp_allow($3);
			free($3);
		}
		;

mopts		: %empty {
			memset(&mopts, 0, sizeof(mopts));
			mopts.on_failure = -1;
		}
		| mopts TIMEOUT value {
			int64_t	 v;

			if (conf_value($3, CONF_UNIT_TIME, &v) == -1 ||
			    v < 1 || v > 3600) {
				conf_error("bad milter timeout \"%s\" (1s to "
				    "1h)", $3);
				mopts.bad = 1;
			} else
				mopts.timeout = v;
			free($3);
		}
		| mopts ONFAILURE STRING {
			if (strcmp($3, "tempfail") == 0)
				mopts.on_failure = MILTER_FAIL_TEMPFAIL;
			else if (strcmp($3, "accept") == 0)
				mopts.on_failure = MILTER_FAIL_ACCEPT;
			else {
				conf_error("on-failure \"%s\": tempfail or "
				    "accept", $3);
				mopts.bad = 1;
			}
			free($3);
		}
		;

pkiopts		: %empty {
			free(pki_cert);
			free(pki_key);
			pki_cert = pki_key = NULL;
		}
		| pkiopts CERT STRING {
			if (pki_cert != NULL) {
				conf_error("cert given twice");
				free($3);
			} else
				pki_cert = $3;
		}
		| pkiopts KEY STRING {
			if (pki_key != NULL) {
				conf_error("key given twice");
				free($3);
			} else
				pki_key = $3;
		}
		;

lopts		: %empty {
			free(lopts.pki);
			free(lopts.ciphers);
			memset(&lopts, 0, sizeof(lopts));
			lopts.port = -1;
			lopt_checks_reset();
		}
		| lopts lopt
		;

lopt		: PORT NUMBER {
			if (lopts.port != -1) {
				conf_error("port given twice");
				lopts.bad = 1;
			} else if ($2 < 1 || $2 > 65535) {
				conf_error("port %lld out of range (1 to "
				    "65535)", (long long)$2);
				lopts.bad = 1;
			} else
				lopts.port = $2;
		}
		| PORT STRING {
			conf_error("bad port \"%s\"", $2);
			lopts.bad = 1;
			free($2);
		}
		| TLS			{ lopt_flag(LISTEN_TLS, "tls"); }
		| TLSREQUIRE {
			lopt_flag(LISTEN_TLS_REQUIRE, "tls-require");
		}
		| SMTPS		{ lopt_implicit("smtps"); }
		| IMAPS		{ lopt_implicit("imaps"); }
		| POP3S		{ lopt_implicit("pop3s"); }
		| PLAINTEXT	{ lopt_flag(LISTEN_PLAINTEXT, "plaintext"); }
		| AUTH		{ lopt_flag(LISTEN_AUTH, "auth"); }
		| HIDECLIENT {
			lopt_flag(LISTEN_HIDE_CLIENT, "hide-client");
		}
		| SPF		{ lopt_flag(LISTEN_SPF, "spf"); }
		| DKIM		{ lopt_flag(LISTEN_DKIM, "dkim"); }
		| DMARC		{ lopt_flag(LISTEN_DMARC, "dmarc"); }
		| DNSBL		{ lopt_flag(LISTEN_DNSBL, "dnsbl"); }
		| GREYLIST	{ lopt_flag(LISTEN_GREYLIST, "greylist"); }
		| MILTERAUTH {
			lopt_flag(LISTEN_MILTER_AUTH, "milter-auth");
		}
		| MILTER STRING {
			lopt_milter($2);
			free($2);
		}
		| IPREV		{ lopt_flag(LISTEN_IPREV, "iprev"); }
		| STRING value {
			lopt_check($1, $2);
			free($1);
			free($2);
		}
		| PKI STRING {
			if (lopts.pki != NULL) {
				conf_error("pki given twice");
				lopts.bad = 1;
				free($2);
			} else
				lopts.pki = $2;
		}
		| CIPHERS STRING {
			if (lopts.ciphers != NULL) {
				conf_error("ciphers given twice");
				lopts.bad = 1;
				free($2);
			} else if (!ciphers_ok($2)) {
				lopts.bad = 1;
				free($2);
			} else
				lopts.ciphers = $2;
		}
		;

%%

struct keyword {
	const char	*word;
	int		 token;
};

/* Sorted for bsearch(). */
static const struct keyword keywords[] = {
	{ "allow",		ALLOW },
	{ "auth",		AUTH },
	{ "ban",		BAN },
	{ "cert",		CERT },
	{ "check",		CHECK },
	{ "chroot",		CHROOT },
	{ "ciphers",		CIPHERS },
	{ "dkim",		DKIM },
	{ "dmarc",		DMARC },
	{ "dnsbl",		DNSBL },
	{ "greylist",		GREYLIST },
	{ "hide-client",	HIDECLIENT },
	{ "hostname",		HOSTNAME },
	{ "imap",		IMAP },
	{ "imaps",		IMAPS },
	{ "include",		INCLUDE },
	{ "iprev",		IPREV },
	{ "key",		KEY },
	{ "limit",		LIMIT },
	{ "listen",		LISTEN },
	{ "lmtp",		LMTP },
	{ "mailroot",		MAILROOT },
	{ "metrics",		METRICS },
	{ "milter",		MILTER },
	{ "milter-auth",	MILTERAUTH },
	{ "mta",		MTA },
	{ "on",			ON },
	{ "on-failure",		ONFAILURE },
	{ "pki",		PKI },
	{ "plaintext",		PLAINTEXT },
	{ "pop3",		POP3 },
	{ "pop3s",		POP3S },
	{ "port",		PORT },
	{ "postmaster",		POSTMASTER },
	{ "queue",		QUEUE },
	{ "relay",		RELAY },
	{ "rundir",		RUNDIR },
	{ "smtps",		SMTPS },
	{ "socket",		SOCKET },
	{ "spf",		SPF },
	{ "spool",		SPOOL },
	{ "statedir",		STATEDIR },
	{ "table",		TABLE },
	{ "timeout",		TIMEOUT },
	{ "tls",		TLS },
	{ "tls-require",	TLSREQUIRE },
	{ "user",		USER },
};

static void
conf_verror(int lineno, const char *fmt, va_list ap)
{
	if (give_up)
		return;
	fprintf(stderr, "%s:%d: ", file->name, lineno);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	if (++errors >= ERRORS_MAX) {
		fprintf(stderr, "%s:%d: too many errors, giving up\n",
		    file->name, lineno);
		give_up = 1;
	}
}

/* An error at the line of the token just read. */
static void
conf_error(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	conf_verror(tok_lineno, fmt, ap);
	va_end(ap);
}

/* The lexer's own errors: the parser must not repeat them. */
static void
lex_error(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	conf_verror(tok_lineno, fmt, ap);
	va_end(ap);
	lex_reported = 1;
}

static void
conf_yyerror(const char *msg)
{
	if (lex_reported || give_up)
		return;
	if (strcmp(msg, "syntax error") != 0)
		conf_error("%s", msg);
	else if (tok_index == 2 && stmt_word[0] != '\0')
		conf_error("unknown keyword \"%s\"", stmt_word);
	else if (strncmp(tok_text, "unknown", 7) == 0)
		conf_error("%s", tok_text);
	else
		conf_error("syntax error %s", tok_text);
}

static int
keyword_cmp(const void *k, const void *e)
{
	return strcmp(k, ((const struct keyword *)e)->word);
}

static int
keyword_lookup(const char *s)
{
	const struct keyword	*kw;

	kw = bsearch(s, keywords, sizeof(keywords) / sizeof(keywords[0]),
	    sizeof(keywords[0]), keyword_cmp);
	return kw == NULL ? STRING : kw->token;
}

/*
 * One character of input: expanded macro text first, then the file.
 * Outside quoted strings ("raw" off) a backslash before a newline joins
 * the two lines.
 */
static int
lex_getc(int raw)
{
	int	c, next;

	if (pushlen > 0)
		return (unsigned char)pushbuf[--pushlen];
	for (;;) {
		if (file->at_eof)
			return EOF;
		if ((c = getc(file->stream)) == EOF) {
			file->at_eof = 1;
			return EOF;
		}
		if (c != '\\' || raw)
			return c;
		if ((next = getc(file->stream)) != '\n') {
			if (next != EOF)
				ungetc(next, file->stream);
			return c;
		}
		file->lineno++;
	}
}

static int
lex_ungetc(int c)
{
	if (c == EOF)
		return 0;
	if (pushlen >= sizeof(pushbuf))
		return -1;
	pushbuf[pushlen++] = c;
	return 0;
}

static int
is_word_char(int c)
{
	return c != EOF && c != '\0' &&
	    (isalnum(c) || strchr("-_./:@+%*~[]", c) != NULL);
}

static int
is_macro_char(int c)
{
	return c != EOF && (isalnum(c) || c == '_');
}

/* Describe the token just read, for "syntax error near ...". */
static void
tok_describe(int c, const char *text, int quoted)
{
	/* Counted from 1 at each statement, its '\n' included. */
	if (tok_after_nl || c == 0)
		tok_index = 0;
	tok_after_nl = (c == '\n');
	if (++tok_index == 1) {
		stmt_word[0] = '\0';
		/* A statement never begins with a word of its own. */
		if (text != NULL && !quoted && keyword_lookup(text) == STRING &&
		    isalpha((unsigned char)text[0]))
			snprintf(stmt_word, sizeof(stmt_word), "%s", text);
	}
	if (c == '\n')
		snprintf(tok_text, sizeof(tok_text), "at end of line");
	else if (c == 0)
		snprintf(tok_text, sizeof(tok_text), "at end of file");
	else if (text == NULL)
		snprintf(tok_text, sizeof(tok_text), "near '%c'", c);
	else if (!quoted && keyword_lookup(text) == STRING &&
	    isalpha((unsigned char)text[0]))
		snprintf(tok_text, sizeof(tok_text),
		    "unknown keyword \"%.40s\"", text);
	else
		snprintf(tok_text, sizeof(tok_text), "near \"%.40s\"", text);
}

/* Skip to the end of the line after a lexical error. */
static int
lex_fail(void)
{
	int	c;

	while ((c = lex_getc(1)) != '\n' && c != EOF)
		;
	lex_ungetc(c);
	return ERROR;
}

/* $name: push the value back to be read as if it were in the file. */
static int
lex_macro(void)
{
	struct conf_macro	*m;
	char			 name[MACRO_NAME_MAX];
	size_t			 len = 0, vlen;
	int			 c;

	while (is_macro_char(c = lex_getc(0))) {
		if (len >= sizeof(name) - 1) {
			lex_error("macro name too long");
			return lex_fail();
		}
		name[len++] = c;
	}
	name[len] = '\0';
	lex_ungetc(c);
	if (len == 0) {
		lex_error("'$' not followed by a macro name");
		return lex_fail();
	}
	TAILQ_FOREACH(m, &macros, entry)
		if (strcmp(m->name, name) == 0)
			break;
	if (m == NULL) {
		lex_error("macro \"%s\" not defined", name);
		return lex_fail();
	}
	if (++expansions > EXPANSIONS_MAX) {
		lex_error("too many macro expansions (recursive macro "
		    "\"%s\"?)", name);
		return lex_fail();
	}
	vlen = strlen(m->value);
	if (vlen > sizeof(pushbuf) - pushlen) {
		lex_error("macro \"%s\" expands too far", name);
		return lex_fail();
	}
	while (vlen > 0)
		pushbuf[pushlen++] = m->value[--vlen];
	return 0;
}

/*
 * $name inside a quoted string: the value goes into the string as it is,
 * not read again as tokens.  A '$' not followed by a name stays a '$'.
 */
static int
lex_quoted_macro(char *buf, size_t bufsz, size_t *len)
{
	struct conf_macro	*m;
	char			 name[MACRO_NAME_MAX];
	size_t			 n = 0, vlen;
	int			 c;

	while (is_macro_char(c = lex_getc(1))) {
		if (n >= sizeof(name) - 1) {
			lex_error("macro name too long");
			return -1;
		}
		name[n++] = c;
	}
	name[n] = '\0';
	lex_ungetc(c);
	if (n == 0) {
		name[0] = '$';
		name[1] = '\0';
		m = NULL;
	} else {
		TAILQ_FOREACH(m, &macros, entry)
			if (strcmp(m->name, name) == 0)
				break;
		if (m == NULL) {
			lex_error("macro \"%s\" not defined", name);
			return -1;
		}
	}
	vlen = strlen(m == NULL ? name : m->value);
	if (*len + vlen >= bufsz) {
		lex_error("quoted string too long");
		return -1;
	}
	memcpy(buf + *len, m == NULL ? name : m->value, vlen);
	*len += vlen;
	return 0;
}

/*
 * A quoted string, with \" \\ \$ \n \t, backslash-newline and $name.
 */
static int
lex_quoted(char *buf, size_t bufsz)
{
	size_t	len = 0;
	int	c;

	for (;;) {
		c = lex_getc(1);
		if (c == EOF || c == '\n') {
			lex_ungetc(c);
			lex_error("unterminated quoted string");
			return ERROR;
		}
		if (c == '"')
			break;
		if (c == '$') {
			if (lex_quoted_macro(buf, bufsz, &len) == -1)
				return lex_fail();
			continue;
		}
		if (c == '\\') {
			switch (c = lex_getc(1)) {
			case '\n':
				file->lineno++;
				continue;
			case '"':
			case '\\':
			case '$':
				break;
			case 'n':
				c = '\n';
				break;
			case 't':
				c = '\t';
				break;
			default:
				lex_ungetc(c);
				lex_error("unknown escape in quoted string");
				return lex_fail();
			}
		} else if (c == '\0' || (iscntrl(c) && c != '\t')) {
			lex_error("control character in quoted string");
			return lex_fail();
		}
		if (len >= bufsz - 1) {
			lex_error("quoted string too long");
			return lex_fail();
		}
		buf[len++] = c;
	}
	buf[len] = '\0';
	return STRING;
}

static int
lex_word(int c, char *buf, size_t bufsz)
{
	size_t	len = 0;

	do {
		if (len >= bufsz - 1) {
			lex_error("word too long");
			return lex_fail();
		}
		buf[len++] = c;
	} while (is_word_char(c = lex_getc(0)));
	buf[len] = '\0';
	if (lex_ungetc(c) == -1) {
		lex_error("input too long");
		return lex_fail();
	}
	return keyword_lookup(buf);
}

/* Digits with an optional sign are numbers; "35M" stays a word. */
static int
lex_number(const char *s, int64_t *n)
{
	const char	*p = s;
	char		*end;
	long long	 v;

	if (*p == '-')
		p++;
	if (*p == '\0')
		return 0;
	for (; *p != '\0'; p++)
		if (!isdigit((unsigned char)*p))
			return 0;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno == ERANGE)
		return -1;
	*n = v;
	return 1;
}

static int
conf_yylex(void)
{
	char	buf[TOKEN_MAX];
	int	c, token, quoted;
	int64_t	n;

	lex_reported = 0;
top:
	if (give_up)
		return 0;
	if (file->nl_pending) {
		file->lineno++;
		file->nl_pending = 0;
	}
	while ((c = lex_getc(0)) == ' ' || c == '\t' || c == '\r')
		;
	tok_lineno = file->lineno;
	if (c == '#')
		while ((c = lex_getc(1)) != '\n' && c != EOF)
			;
	if (c == EOF) {
		/* Every file ends a statement, even without a newline. */
		if (!file->eof_nl) {
			file->eof_nl = 1;
			expansions = 0;
			tok_describe('\n', NULL, 0);
			snprintf(tok_text, sizeof(tok_text), "at end of file");
			return '\n';
		}
		if (TAILQ_PREV(file, conf_file_list, entry) == NULL) {
			tok_describe(0, NULL, 0);
			return 0;
		}
		file_pop();
		goto top;
	}
	if (c == '\n') {
		file->nl_pending = 1;
		expansions = 0;
		tok_describe(c, NULL, 0);
		return '\n';
	}
	if (c == '$') {
		if ((token = lex_macro()) != 0)
			return token;
		goto top;
	}
	if ((quoted = (c == '"')))
		token = lex_quoted(buf, sizeof(buf));
	else if (is_word_char(c))
		token = lex_word(c, buf, sizeof(buf));
	else if (c == '=') {
		tok_describe(c, NULL, 0);
		return c;
	} else {
		/* Not even a NUL byte may pass for the end of the input. */
		if (isprint(c))
			lex_error("unexpected character '%c'", c);
		else
			lex_error("unexpected byte 0x%02x", c);
		return lex_fail();
	}
	if (token != STRING) {
		if (token != ERROR)
			tok_describe(token, buf, quoted);
		return token;
	}
	tok_describe(token, buf, quoted);
	if (!quoted) {
		switch (lex_number(buf, &n)) {
		case -1:
			lex_error("number out of range: %s", buf);
			return ERROR;
		case 1:
			conf_yylval.number = n;
			return NUMBER;
		}
	}
	if ((conf_yylval.string = strdup(buf)) == NULL) {
		lex_error("out of memory");
		return ERROR;
	}
	return STRING;
}

/*
 * Open a file to read.  Only regular files (opened without blocking, in
 * case someone names a FIFO) of bounded size: an include of /dev/zero
 * must fail, not hang.
 */
static FILE *
file_open(const char *path, char *err, size_t errsz)
{
	struct stat	 st;
	FILE		*f;
	int		 fd, fl;

	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1) {
		snprintf(err, errsz, "%s", strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > FILE_SIZE_MAX) {
		snprintf(err, errsz, "%s", !S_ISREG(st.st_mode) ?
		    "not a regular file" : "file too large");
		close(fd);
		return NULL;
	}
	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == -1 ||
	    (f = fdopen(fd, "r")) == NULL) {
		snprintf(err, errsz, "%s", strerror(errno));
		close(fd);
		return NULL;
	}
	return f;
}

/* Relative includes are found beside the including file. */
static char *
include_path(const char *name)
{
	char	*dir, *copy, *path;

	if (name[0] == '/' || file == NULL)
		return strdup(name);
	if ((copy = strdup(file->name)) == NULL)
		return NULL;
	dir = dirname(copy);
	if (strcmp(dir, ".") == 0)
		path = strdup(name);
	else if (asprintf(&path, "%s/%s", dir, name) == -1)
		path = NULL;
	free(copy);
	return path;
}

static int
file_push(const char *name)
{
	struct conf_file	*f;
	char			 err[128];
	int			 depth = 0;

	TAILQ_FOREACH(f, &files, entry)
		depth++;
	if (depth >= INCLUDE_DEPTH_MAX) {
		conf_error("include \"%s\": includes nested too deep (%d)",
		    name, INCLUDE_DEPTH_MAX);
		return -1;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL ||
	    (f->name = include_path(name)) == NULL) {
		if (f != NULL)
			free(f);
		conf_error("out of memory");
		return -1;
	}
	if ((f->stream = file_open(f->name, err, sizeof(err))) == NULL) {
		if (file == NULL) {
			fprintf(stderr, "%s: %s\n", f->name, err);
			errors++;
		} else
			conf_error("include \"%s\": %s", f->name, err);
		free(f->name);
		free(f);
		return -1;
	}
	f->lineno = 1;
	TAILQ_INSERT_TAIL(&files, f, entry);
	file = f;
	return 0;
}

static void
file_pop(void)
{
	struct conf_file	*prev;

	prev = TAILQ_PREV(file, conf_file_list, entry);
	TAILQ_REMOVE(&files, file, entry);
	fclose(file->stream);
	free(file->name);
	free(file);
	file = prev;
}

static void
macro_set(char *name, char *value)
{
	struct conf_macro	*m;
	const char		*p;

	for (p = name; *p != '\0'; p++)
		if (!is_macro_char((unsigned char)*p))
			break;
	if (*p != '\0' || p == name || isdigit((unsigned char)name[0]) ||
	    strlen(name) >= MACRO_NAME_MAX) {
		conf_error("invalid macro name \"%s\"", name);
		goto fail;
	}
	/* Its text is read again as input: it must stay on one line. */
	if (strchr(value, '\n') != NULL) {
		conf_error("macro \"%s\" contains a newline", name);
		goto fail;
	}
	TAILQ_FOREACH(m, &macros, entry)
		if (strcmp(m->name, name) == 0) {
			free(m->value);
			m->value = value;
			free(name);
			return;
		}
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		conf_error("out of memory");
		goto fail;
	}
	m->name = name;
	m->value = value;
	TAILQ_INSERT_TAIL(&macros, m, entry);
	return;
fail:
	free(name);
	free(value);
}

static void
set_string(char *dst, size_t dstsz, const char *src, const char *what)
{
	if (strlen(src) >= dstsz) {
		conf_error("%s too long", what);
		return;
	}
	memcpy(dst, src, strlen(src) + 1);
}

/*
 * A whole address, local@domain, kept as addr_format() writes it.  Plain
 * ASCII: mail to postmaster must reach it from any session.
 */
static void
set_postmaster(const char *s)
{
	struct mailaddr	 a;
	char		 buf[CONF_ADDR_MAX * 2];

	if (addr_parse(s, &a, 0) == -1 || addr_is_null(&a)) {
		conf_error("invalid postmaster address \"%s\": want "
		    "local@domain", s);
		return;
	}
	addr_format(&a, buf, sizeof(buf));
	set_string(conf->postmaster, sizeof(conf->postmaster), buf,
	    "postmaster address");
}

/* Daemons chdir and chroot: every path in the file is absolute. */
static void
set_path(char *dst, size_t dstsz, const char *src, const char *what)
{
	if (src[0] != '/') {
		conf_error("%s must be an absolute path: \"%s\"", what, src);
		return;
	}
	set_string(dst, dstsz, src, what);
}

static void
set_user(const char *kind, const char *name)
{
	char	*dst;

	if (strcmp(kind, "smtpd") == 0)
		dst = conf->user_smtpd;
	else if (strcmp(kind, "lmtpd") == 0)
		dst = conf->user_lmtpd;
	else if (strcmp(kind, "mta") == 0)
		dst = conf->user_mta;
	else if (strcmp(kind, "queue") == 0)
		dst = conf->user_queue;
	else if (strcmp(kind, "imap-login") == 0)
		dst = conf->user_imap;
	else if (strcmp(kind, "auth") == 0)
		dst = conf->user_auth;
	else if (strcmp(kind, "vmail") == 0)
		dst = conf->user_vmail;
	else if (strcmp(kind, "metrics") == 0)
		dst = conf->user_metrics;
	else {
		conf_error("unknown user kind \"%s\" (smtpd, lmtpd, mta, "
		    "queue, auth, imap-login, metrics or vmail)", kind);
		return;
	}
	if (name[0] == '\0') {
		conf_error("empty user name");
		return;
	}
	/* All the user fields have the same size. */
	set_string(dst, sizeof(conf->user_smtpd), name, "user name");
}

static void
add_lmtp_allow(const char *name)
{
	size_t	 i;

	if (name[0] == '\0') {
		conf_error("empty user name in allow");
		return;
	}
	for (i = 0; i < conf->nlmtp_allow; i++)
		if (strcmp(conf->lmtp_allow[i], name) == 0)
			return;
	if (conf->nlmtp_allow >= CONF_ALLOW_MAX) {
		conf_error("more than %d users in lmtp allow", CONF_ALLOW_MAX);
		return;
	}
	set_string(conf->lmtp_allow[conf->nlmtp_allow++],
	    sizeof(conf->lmtp_allow[0]), name, "user name");
}

static void
set_table(const char *which, const char *backend, const char *path)
{
	struct conf_table	*t;

	if (strcmp(which, "domains") == 0)
		t = &conf->domains;
	else if (strcmp(which, "users") == 0)
		t = &conf->users;
	else if (strcmp(which, "aliases") == 0)
		t = &conf->aliases;
	else {
		conf_error("unknown table \"%s\" (domains, users or aliases)",
		    which);
		return;
	}
	if (strcmp(backend, "file") != 0 && strcmp(backend, "mysql") != 0) {
		conf_error("unknown table backend \"%s\" (file or mysql)",
		    backend);
		return;
	}
	if (path[0] != '/') {
		conf_error("table path must be absolute: \"%s\"", path);
		return;
	}
	if (strlen(path) >= sizeof(t->path)) {
		conf_error("table path too long");
		return;
	}
	t->backend = strcmp(backend, "mysql") == 0 ? TABLE_MYSQL :
	    TABLE_FILE;
	memcpy(t->path, path, strlen(path) + 1);
}

static void
set_knob(const char *group, const char *name, const char *text)
{
	const struct knob	*k;
	const char		*unit;
	int64_t			 v;
	size_t			 i;

	for (i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++)
		if (strcmp(knobs[i].group, group) == 0 &&
		    strcmp(knobs[i].name, name) == 0)
			break;
	if (i == sizeof(knobs) / sizeof(knobs[0])) {
		conf_error("unknown %s \"%s\"", group, name);
		return;
	}
	k = &knobs[i];
	unit = k->unit == CONF_UNIT_SIZE ? " bytes" :
	    k->unit == CONF_UNIT_TIME ? " seconds" : "";
	/* A size that may be 0 may be said "none" (limit mailbox-size). */
	if (k->unit == CONF_UNIT_SIZE && k->min == 0 &&
	    strcmp(text, "none") == 0)
		v = 0;
	else if (conf_value(text, k->unit, &v) == -1) {
		conf_error("%s %s: bad %s \"%s\"", group, name,
		    k->unit == CONF_UNIT_SIZE ? "size" :
		    k->unit == CONF_UNIT_TIME ? "time" : "number", text);
		return;
	}
	if (v < k->min || v > k->max) {
		conf_error("%s %s: %s out of range (%lld to %lld%s)", group,
		    name, text, (long long)k->min, (long long)k->max, unit);
		return;
	}
	if (k->size == sizeof(size_t))
		*(size_t *)(void *)((char *)conf + k->off) = v;
	else
		*(unsigned int *)(void *)((char *)conf + k->off) = v;
}

/* "ban never NET/LEN": a bare address is a network of one host. */
static void
add_ban_never(const char *text)
{
	struct conf_net	*n;

	if ((n = calloc(1, sizeof(*n))) == NULL) {
		conf_error("out of memory");
		return;
	}
	if (conf_net_parse(n, text) == -1) {
		conf_error("ban never: bad network \"%s\" (ADDRESS or "
		    "ADDRESS/PREFIX, IPv4 or IPv6)", text);
		free(n);
		return;
	}
	TAILQ_INSERT_TAIL(&conf->ban_never, n, entry);
}

/*
 * "ban prefix ipv4 LEN ipv6 LEN": failures are counted, and bans laid,
 * per network of that length, so that a client moving through the
 * addresses of its IPv6 /64 is one client.
 */
static int
set_ban_prefix(const char *word, const char *family, int64_t len)
{
	if (strcmp(word, "prefix") != 0) {
		conf_error("unknown ban \"%s\"", word);
		return -1;
	}
	if (strcmp(family, "ipv4") == 0 && len >= 8 && len <= 32)
		conf->ban_prefix4 = len;
	else if (strcmp(family, "ipv6") == 0 && len >= 16 && len <= 128)
		conf->ban_prefix6 = len;
	else {
		conf_error("ban prefix: expected \"ipv4 LEN\" (8 to 32) or "
		    "\"ipv6 LEN\" (16 to 128), got \"%s %lld\"", family,
		    (long long)len);
		return -1;
	}
	return 0;
}

static void
add_pki(const char *name)
{
	struct conf_pki	*pki;

	if (pki_cert == NULL || pki_key == NULL) {
		conf_error("pki \"%s\" needs both cert and key", name);
		goto done;
	}
	if (conf_pki_find(conf, name) != NULL) {
		conf_error("pki \"%s\" defined twice", name);
		goto done;
	}
	if (name[0] == '\0' || strlen(name) >= CONF_NAME_MAX) {
		conf_error("bad pki name \"%s\"", name);
		goto done;
	}
	if (pki_cert[0] != '/' || pki_key[0] != '/') {
		conf_error("pki \"%s\": cert and key must be absolute paths",
		    name);
		goto done;
	}
	if (strlen(pki_cert) >= PATH_MAX || strlen(pki_key) >= PATH_MAX) {
		conf_error("pki \"%s\": path too long", name);
		goto done;
	}
	if ((pki = calloc(1, sizeof(*pki))) == NULL) {
		conf_error("out of memory");
		goto done;
	}
	memcpy(pki->name, name, strlen(name) + 1);
	memcpy(pki->cert, pki_cert, strlen(pki_cert) + 1);
	memcpy(pki->key, pki_key, strlen(pki_key) + 1);
	/* For the file:line of the checks made after parsing. */
	(void)strlcpy(pki->file, file->name, sizeof(pki->file));
	pki->line = tok_lineno;
	TAILQ_INSERT_TAIL(&conf->pkis, pki, entry);
done:
	free(pki_cert);
	free(pki_key);
	pki_cert = pki_key = NULL;
}

/* A cipher list: libtls checks that OpenSSL knows some of them. */
static int
ciphers_ok(const char *list)
{
	struct tls_config	*cfg;
	int			 ok = 0;

	if (strlen(list) >= CONF_CIPHERS_MAX) {
		conf_error("tls ciphers: list too long");
		return 0;
	}
	if ((cfg = tls_config_new()) == NULL) {
		conf_error("tls ciphers: out of memory");
		return 0;
	}
	if (tls_config_set_ciphers(cfg, list) == -1)
		conf_error("tls ciphers \"%s\": %s", list,
		    tls_config_error(cfg));
	else
		ok = 1;
	tls_config_free(cfg);
	return ok;
}

static void
lopt_flag(int flag, const char *name)
{
	if (lopts.flags & flag) {
		conf_error("%s given twice", name);
		lopts.bad = 1;
	}
	lopts.flags |= flag;
}

/* "zone" or "zone=A,A,...": the answers that list a client. */
static void
add_dnsbl(struct conf_dnsbl *lists, size_t *n, const char *what,
    const char *text)
{
	struct conf_dnsbl	*l;
	char			 buf[CONF_HOST_MAX + 256], *codes, *c;

	if (*n >= CONF_DNSBL_MAX) {
		conf_error("check %s: more than %d zones", what,
		    CONF_DNSBL_MAX);
		return;
	}
	l = &lists[*n];
	memset(l, 0, sizeof(*l));
	if (strlcpy(buf, text, sizeof(buf)) >= sizeof(buf)) {
		conf_error("check %s: too long", what);
		return;
	}
	if ((codes = strchr(buf, '=')) != NULL)
		*codes++ = '\0';
	if (!conf_hostname_valid(buf)) {
		conf_error("check %s: bad zone \"%s\"", what, buf);
		return;
	}
	strlcpy(l->zone, buf, sizeof(l->zone));
	while (codes != NULL && (c = strsep(&codes, ",")) != NULL) {
		if (l->ncodes >= CONF_DNSBL_CODES ||
		    inet_pton(AF_INET, c, &l->codes[l->ncodes]) != 1) {
			conf_error("check %s %s: bad or too many answer codes "
			    "(at most %d IPv4 addresses)", what, l->zone,
			    CONF_DNSBL_CODES);
			return;
		}
		l->ncodes++;
	}
	(*n)++;
}

/* "check greylist-delay|retry|expire TIME". */
static void
set_grey(const char *name, const char *text)
{
	unsigned int	*dst;
	int64_t		 v;

	if (strcmp(name, "greylist-delay") == 0)
		dst = &conf->grey_delay;
	else if (strcmp(name, "greylist-retry") == 0)
		dst = &conf->grey_retry;
	else if (strcmp(name, "greylist-expire") == 0)
		dst = &conf->grey_expire;
	else {
		conf_error("unknown check \"%s\" (greylist-delay, "
		    "greylist-retry, greylist-expire)", name);
		return;
	}
	if (conf_value(text, CONF_UNIT_TIME, &v) == -1 || v < 0 ||
	    v > 366 * 24 * 3600) {
		conf_error("check %s: bad time \"%s\" (0 to 366d)", name,
		    text);
		return;
	}
	*dst = v;
}

/*
 * The check settings that a listener may override: their names, their
 * values in the order of the CHECK_* constants, and the text of the
 * error for another value.
 */
static const struct check_word {
	const char	*name;
	const char	*values[4];
	const char	*expected;
} check_words[] = {
	{ "on-tempfail", { "accept", "tempfail" }, "accept or tempfail" },
	{ "dmarc-reject", { "none", "quarantine", "reject" },
	    "reject, quarantine or none" },
	{ "iprev-fail", { "log", "tempfail", "reject" },
	    "log, tempfail or reject" },
	{ "dnsbl-at", { "connect", "rcpt" }, "connect or rcpt" },
};

#define CHECK_WORDS	(sizeof(check_words) / sizeof(check_words[0]))
#define CHECK_VALUES	(sizeof(check_words[0].values) / sizeof(char *))

/* The four settings of conf or of a listener, in check_words' order. */
struct check_fields {
	int	*f[4];
};

static struct check_fields
conf_checks(struct conf *c)
{
	struct check_fields	 cf = { { &c->check_tempfail,
				    &c->check_dmarc_reject, &c->check_iprev,
				    &c->check_dnsbl_at } };

	return cf;
}

static int *
check_setting_field(struct check_fields cf, const char *name)
{
	size_t	 i;

	for (i = 0; i < CHECK_WORDS; i++)
		if (strcmp(check_words[i].name, name) == 0)
			return cf.f[i];
	return NULL;
}

/*
 * A check setting: its table row with the value in *v, or NULL if name
 * is none (nothing said) or the value is wrong (an error said).
 */
static const struct check_word *
check_setting(const char *name, const char *text, int *v)
{
	const struct check_word	*w;
	size_t			 i;

	for (w = check_words; w < check_words + CHECK_WORDS; w++) {
		if (strcmp(w->name, name) != 0)
			continue;
		for (i = 0; i < CHECK_VALUES && w->values[i]; i++)
			if (strcmp(w->values[i], text) == 0) {
				*v = i;
				return w;
			}
		conf_error("check %s: \"%s\" is not %s", name, text,
		    w->expected);
		*v = -1;
		return NULL;
	}
	return NULL;
}

/* "listen on ... NAME VALUE": a listener's own check setting. */
static void
lopt_check(const char *name, const char *text)
{
	struct check_fields	 cf = { { &lopts.check_tempfail,
				    &lopts.check_dmarc_reject,
				    &lopts.check_iprev,
				    &lopts.check_dnsbl_at } };
	int			*f, v;

	if ((f = check_setting_field(cf, name)) == NULL) {
		conf_error("unknown keyword \"%s\"", name);
		lopts.bad = 1;
	} else if (check_setting(name, text, &v) == NULL)
		lopts.bad = 1;
	else if (*f != -1) {
		conf_error("%s given twice", name);
		lopts.bad = 1;
	} else
		*f = v;
}

/* No listener check setting yet. */
static void
lopt_checks_reset(void)
{
	lopts.check_tempfail = lopts.check_dmarc_reject = -1;
	lopts.check_iprev = lopts.check_dnsbl_at = -1;
}

static int
lopt_checks_given(void)
{
	return lopts.check_tempfail != -1 || lopts.check_dmarc_reject != -1 ||
	    lopts.check_iprev != -1 || lopts.check_dnsbl_at != -1;
}

/* One word of a "check" statement; the values are words too. */
static void
set_check(const char *name, const char *text)
{
	int	*f, v;

	if (strcmp(name, "resolver") == 0) {
		if (!conf_resolver_valid(text))
			conf_error("check resolver: bad address \"%s\" (IPv4 "
			    "or IPv6 address, optionally @PORT)", text);
		else
			set_string(conf->check_resolver,
			    sizeof(conf->check_resolver), text,
			    "check resolver");
	} else if (strcmp(name, "psl") == 0)
		set_path(conf->check_psl, sizeof(conf->check_psl), text,
		    "check psl");
	else if ((f = check_setting_field(conf_checks(conf), name)) != NULL) {
		if (check_setting(name, text, &v) != NULL)
			*f = v;
	}
	else if (strcmp(name, "dnsbl") == 0)
		add_dnsbl(conf->dnsbl, &conf->ndnsbl, "dnsbl", text);
	else if (strcmp(name, "dnswl") == 0)
		add_dnsbl(conf->dnswl, &conf->ndnswl, "dnswl", text);
	else if (strncmp(name, "greylist-", 9) == 0)
		set_grey(name, text);
	else if (strcmp(name, "received-spf") == 0) {
		if (strcmp(text, "yes") == 0)
			conf->check_received_spf = 1;
		else if (strcmp(text, "no") == 0)
			conf->check_received_spf = 0;
		else
			conf_error("check received-spf: \"%s\" is not yes or "
			    "no", text);
	} else
		conf_error("unknown check \"%s\" (resolver, psl, on-tempfail, "
		    "dmarc-reject, received-spf, dnsbl, dnswl, iprev-fail, "
		    "dnsbl-at)", name);
}

/* smtps, imaps, pop3s: implicit TLS, each on its own kind of listener. */
static void
lopt_implicit(const char *name)
{
	if (lopts.implicit != NULL) {
		if (strcmp(lopts.implicit, name) == 0)
			conf_error("%s given twice", name);
		else
			conf_error("%s given after %s", name, lopts.implicit);
		lopts.bad = 1;
	}
	lopts.implicit = name;
	lopts.flags |= LISTEN_SMTPS;
}

/* "mta resolver": tests point the mta at their own name server. */
static void
set_resolver(const char *text)
{
	if (!conf_resolver_valid(text)) {
		conf_error("mta resolver: bad address \"%s\" (IPv4 or IPv6 "
		    "address, optionally @PORT)", text);
		return;
	}
	set_string(conf->mta_resolver, sizeof(conf->mta_resolver), text,
	    "mta resolver");
}

static void
lowercase(char *s)
{
	for (; *s != '\0'; s++)
		*s = tolower((unsigned char)*s);
}

/* "mta tls verify domain NAME" */
static void
add_tls_verify(const char *verify, const char *domain, const char *name)
{
	struct conf_domain	*d, *o;

	if (strcmp(verify, "verify") != 0 || strcmp(domain, "domain") != 0) {
		conf_error("mta tls: expected \"verify domain NAME\"");
		return;
	}
	if (!conf_hostname_valid(name)) {
		conf_error("mta tls verify: bad domain \"%s\"", name);
		return;
	}
	if ((d = calloc(1, sizeof(*d))) == NULL) {
		conf_error("out of memory");
		return;
	}
	memcpy(d->name, name, strlen(name) + 1);
	lowercase(d->name);
	TAILQ_FOREACH(o, &conf->mta_tls_verify, entry)
		if (strcmp(o->name, d->name) == 0) {
			conf_error("mta tls verify domain \"%s\" given twice",
			    name);
			free(d);
			return;
		}
	TAILQ_INSERT_TAIL(&conf->mta_tls_verify, d, entry);
}

/*
 * "relay host NAME [port N] [smtps|starttls] [auth FILE]".  TLS is
 * always used with a relay: the password must never travel in clear.
 */
static void
set_relay(const char *kw, const char *host)
{
	struct conf_relay	*r = &conf->relay;

	if (ropts.bad)
		return;
	if (strcmp(kw, "host") != 0) {
		conf_error("relay: expected \"host NAME\"");
		return;
	}
	if (r->host[0] != '\0') {
		conf_error("relay host given twice");
		return;
	}
	if (!conf_host_valid(host)) {
		conf_error("relay: bad host \"%s\"", host);
		return;
	}
	memcpy(r->host, host, strlen(host) + 1);
	r->tls = ropts.tls != 0 ? ropts.tls : RELAY_STARTTLS;
	if (ropts.port != -1)
		r->port = ropts.port;
	else
		r->port = r->tls == RELAY_SMTPS ? 465 : 25;
	memcpy(r->secret, ropts.secret, strlen(ropts.secret) + 1);
}

/* "dkim domain D selector S key FILE [rsa|ed25519]" */
static void
add_dkim(const char *kw_domain, const char *domain, const char *kw_sel,
    const char *selector, const char *key, const char *alg)
{
	struct conf_dkim	*k, *o;
	int			 algorithm = DKIM_RSA;

	if (strcmp(kw_domain, "domain") != 0 ||
	    strcmp(kw_sel, "selector") != 0) {
		conf_error("dkim: expected \"domain D selector S key FILE\"");
		return;
	}
	if (!conf_hostname_valid(domain)) {
		conf_error("dkim: bad domain \"%s\"", domain);
		return;
	}
	/* A selector is one or more DNS labels before "._domainkey". */
	if (!conf_hostname_valid(selector) ||
	    strlen(selector) >= CONF_NAME_MAX) {
		conf_error("dkim: bad selector \"%s\"", selector);
		return;
	}
	if (key[0] != '/' || strlen(key) >= PATH_MAX) {
		conf_error("dkim: key must be an absolute path: \"%s\"", key);
		return;
	}
	if (alg != NULL) {
		if (strcmp(alg, "rsa") == 0)
			algorithm = DKIM_RSA;
		else if (strcmp(alg, "ed25519") == 0)
			algorithm = DKIM_ED25519;
		else {
			conf_error("dkim: unknown algorithm \"%s\" (rsa or "
			    "ed25519)", alg);
			return;
		}
	}
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		conf_error("out of memory");
		return;
	}
	memcpy(k->domain, domain, strlen(domain) + 1);
	lowercase(k->domain);
	memcpy(k->selector, selector, strlen(selector) + 1);
	memcpy(k->key, key, strlen(key) + 1);
	k->algorithm = algorithm;
	TAILQ_FOREACH(o, &conf->dkims, entry)
		if (strcmp(o->domain, k->domain) == 0 &&
		    strcasecmp(o->selector, k->selector) == 0) {
			conf_error("dkim domain \"%s\" selector \"%s\" given "
			    "twice", domain, selector);
			free(k);
			return;
		}
	TAILQ_INSERT_TAIL(&conf->dkims, k, entry);
}

static int
listen_flags_ok(struct conf_listen_list *list, int flags, const char *pki)
{
	const char	*implicit;
	int		 tls;

	implicit = list == &conf->imap_listens ? "imaps" :
	    list == &conf->pop3_listens ? "pop3s" : "smtps";
	if (lopts.implicit != NULL && strcmp(lopts.implicit, implicit) != 0) {
		conf_error("%s on a%s listener", lopts.implicit,
		    list == &conf->imap_listens ? "n imap" :
		    list == &conf->pop3_listens ? " pop3" : "n smtp");
		return 0;
	}
	if (implicit[0] != 's' && (flags & (LISTEN_AUTH |
	    LISTEN_HIDE_CLIENT))) {
		conf_error("auth and hide-client are for smtp listeners");
		return 0;
	}
	if (implicit[0] == 's' && (flags & LISTEN_PLAINTEXT)) {
		conf_error("plaintext is for imap and pop3 listeners");
		return 0;
	}

	tls = flags & (LISTEN_TLS | LISTEN_TLS_REQUIRE | LISTEN_SMTPS);

	if ((flags & LISTEN_SMTPS) && (flags & (LISTEN_TLS |
	    LISTEN_TLS_REQUIRE))) {
		conf_error("%s cannot be combined with tls or tls-require",
		    lopts.implicit);
		return 0;
	}
	if (tls && pki == NULL) {
		conf_error("tls, tls-require and %s need a pki", implicit);
		return 0;
	}
	if (!tls && lopts.ciphers != NULL) {
		conf_error("ciphers given without tls, tls-require or %s",
		    implicit);
		return 0;
	}
	if (!tls && pki != NULL) {
		conf_error("pki given without tls, tls-require or %s",
		    implicit);
		return 0;
	}
	if (pki != NULL && conf_pki_find(conf, pki) == NULL) {
		conf_error("pki \"%s\" not defined", pki);
		return 0;
	}
	return 1;
}

static void
add_listen(struct conf_listen_list *list, const char *addr, int flags,
    const char *pki)
{
	struct conf_listen	*l, *o;
	int			 port = lopts.port;

	if (lopts.bad || !listen_flags_ok(list, flags, pki))
		goto done;
	/*
	 * IMAP/POP3 without TLS: passwords in clear, so only when the
	 * admin says so (a webmail on localhost).
	 */
	if ((list == &conf->imap_listens || list == &conf->pop3_listens) &&
	    !(flags & (LISTEN_TLS | LISTEN_TLS_REQUIRE | LISTEN_SMTPS)) &&
	    !(flags & LISTEN_PLAINTEXT)) {
		conf_error("an %s listener without tls or %s allows no login: "
		    "add tls, %s or plaintext", list == &conf->imap_listens ?
		    "imap" : "pop3", list == &conf->imap_listens ? "imaps" :
		    "pop3s", list == &conf->imap_listens ? "imaps" : "pop3s");
		goto done;
	}
	/* Required TLS wins over plaintext. */
	if (flags & LISTEN_TLS_REQUIRE)
		flags &= ~LISTEN_PLAINTEXT;
	/* STARTTLS must be offered before it can be required. */
	if (flags & LISTEN_TLS_REQUIRE)
		flags |= LISTEN_TLS;
	if (port == -1) {
		if (list == &conf->lmtp_listens)
			port = 24;
		else if (list == &conf->metrics_listens)
			port = 9154;
		else if (list == &conf->imap_listens)
			port = (flags & LISTEN_SMTPS) ? 993 : 143;
		else if (list == &conf->pop3_listens)
			port = (flags & LISTEN_SMTPS) ? 995 : 110;
		else
			port = (flags & LISTEN_SMTPS) ? 465 : 25;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		conf_error("out of memory");
		goto done;
	}
	if (conf_listen_resolve(l, addr, port) == -1) {
		conf_error("bad address \"%s\" (an IPv4 or IPv6 address, any "
		    "or localhost)", addr);
		free(l);
		goto done;
	}
	l->flags = flags;
	if (pki != NULL)
		memcpy(l->pki, pki, strlen(pki) + 1);
	if (lopts.ciphers != NULL)
		memcpy(l->ciphers, lopts.ciphers, strlen(lopts.ciphers) + 1);
	if (lopts.nmilters > 0 && list == &conf->lmtp_listens) {
		conf_error("an lmtp listener takes no milter");
		free(l);
		goto done;
	}
	memcpy(l->milters, lopts.milters, sizeof(l->milters));
	l->nmilters = lopts.nmilters;
	if (lopt_checks_given() && list != &conf->listens) {
		conf_error("check settings are for smtp listeners");
		free(l);
		goto done;
	}
	l->check_tempfail = lopts.check_tempfail;
	l->check_dmarc_reject = lopts.check_dmarc_reject;
	l->check_iprev = lopts.check_iprev;
	l->check_dnsbl_at = lopts.check_dnsbl_at;
	TAILQ_FOREACH(o, list, entry)
		if (o->sslen == l->sslen &&
		    memcmp(&o->ss, &l->ss, l->sslen) == 0) {
			conf_error("listen on %s port %d given twice", addr,
			    port);
			free(l);
			goto done;
		}
	TAILQ_INSERT_TAIL(list, l, entry);
done:
	free(lopts.pki);
	memset(&lopts, 0, sizeof(lopts));
	lopts.port = -1;
	lopt_checks_reset();
}

/*
 * "inet:IP:PORT", "inet6:IP:PORT" (the port after the last colon) or
 * "unix:/path" ("local:" as Sendmail writes it too).  Numeric only:
 * the engine that connects has no resolver in its chroot.
 */
static int
milter_target(struct conf_milter *m, const char *t)
{
	struct addrinfo		 hints, *res;
	struct sockaddr_un	*sun;
	const char		*path, *colon;
	char			 host[CONF_HOST_MAX];
	size_t			 hlen;

	if (strncmp(t, "unix:", 5) == 0 || strncmp(t, "local:", 6) == 0) {
		path = strchr(t, ':') + 1;
		sun = (struct sockaddr_un *)&m->ss;
		if (path[0] != '/' || strlen(path) >= sizeof(sun->sun_path))
			return -1;
		sun->sun_family = AF_UNIX;
		strlcpy(sun->sun_path, path, sizeof(sun->sun_path));
		m->sslen = sizeof(*sun);
		return 0;
	}
	if (strncmp(t, "inet:", 5) == 0)
		t += 5;
	else if (strncmp(t, "inet6:", 6) == 0)
		t += 6;
	else
		return -1;
	if ((colon = strrchr(t, ':')) == NULL || colon == t)
		return -1;
	hlen = colon - t;
	if (t[0] == '[' && hlen > 2 && t[hlen - 1] == ']') {
		t++;
		hlen -= 2;
	}
	if (hlen >= sizeof(host))
		return -1;
	memcpy(host, t, hlen);
	host[hlen] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, colon + 1, &hints, &res) != 0)
		return -1;
	memcpy(&m->ss, res->ai_addr, res->ai_addrlen);
	m->sslen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static void
add_milter(const char *name, const char *target)
{
	struct conf_milter	*m;

	if (mopts.bad)
		return;
	if (strlen(name) >= CONF_NAME_MAX || strlen(target) >= PATH_MAX) {
		conf_error("milter name or address too long");
		return;
	}
	if (conf_milter_find(conf, name) != NULL) {
		conf_error("milter \"%s\" defined twice", name);
		return;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		conf_error("out of memory");
		return;
	}
	if (milter_target(m, target) == -1) {
		conf_error("bad milter address \"%s\" (inet:IP:PORT, "
		    "inet6:IP:PORT or unix:/path)", target);
		free(m);
		return;
	}
	memcpy(m->name, name, strlen(name) + 1);
	memcpy(m->target, target, strlen(target) + 1);
	m->timeout = mopts.timeout ? mopts.timeout : 10;
	m->on_failure = mopts.on_failure == -1 ? MILTER_FAIL_TEMPFAIL :
	    mopts.on_failure;
	TAILQ_INSERT_TAIL(&conf->milters, m, entry);
}

/* A listener's milter, defined above it, each once. */
static void
lopt_milter(const char *name)
{
	struct conf_milter	*m;
	size_t			 i;

	if ((m = conf_milter_find(conf, name)) == NULL) {
		conf_error("milter \"%s\" not defined", name);
		lopts.bad = 1;
		return;
	}
	for (i = 0; i < lopts.nmilters; i++)
		if (lopts.milters[i] == m) {
			conf_error("milter \"%s\" given twice", name);
			lopts.bad = 1;
			return;
		}
	if (lopts.nmilters == CONF_LISTEN_MILTERS) {
		conf_error("more than %d milters", CONF_LISTEN_MILTERS);
		lopts.bad = 1;
		return;
	}
	lopts.milters[lopts.nmilters++] = m;
}

static void
conf_lex_reset(void)
{
	TAILQ_INIT(&files);
	TAILQ_INIT(&macros);
	file = NULL;
	pushlen = 0;
	expansions = 0;
	errors = 0;
	give_up = 0;
	lex_reported = 0;
	tok_lineno = 0;
	tok_text[0] = '\0';
	tok_index = 0;
	tok_after_nl = 1;
	stmt_word[0] = '\0';
	memset(&lopts, 0, sizeof(lopts));
	lopts.port = -1;
	pki_cert = pki_key = NULL;
}

static void
conf_lex_free(void)
{
	struct conf_macro	*m;

	while (file != NULL)
		file_pop();
	while ((m = TAILQ_FIRST(&macros)) != NULL) {
		TAILQ_REMOVE(&macros, m, entry);
		free(m->name);
		free(m->value);
		free(m);
	}
	free(lopts.pki);
	free(pki_cert);
	free(pki_key);
	lopts.pki = pki_cert = pki_key = NULL;
}

int
conf_parse(const char *path, struct conf *c)
{
	char	 err[256];
	char	*top;

	if (path == NULL)
		path = TSAMBA_CONF;
	conf = c;
	conf_init(conf);
	conf_lex_reset();
	if (file_push(path) == -1) {
		conf_lex_free();
		return -1;
	}
	if ((top = strdup(file->name)) == NULL) {
		fprintf(stderr, "%s: out of memory\n", path);
		conf_lex_free();
		return -1;
	}
	if (conf_yyparse() != 0 && errors == 0)
		errors++;
	conf_lex_free();
	if (errors == 0 && conf_finish(conf, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", top, err);
		errors++;
	}
	free(top);
	conf = NULL;
	if (errors > 0) {
		conf_clear(c);
		return -1;
	}
	return 0;
}
