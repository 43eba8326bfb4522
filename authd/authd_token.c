/*
 * One-time login tokens for tsamba-imapd.  After an IMAP or POP3 login
 * succeeds, authd keeps the mailbox it resolved (path, owner, quota)
 * under a random token and gives the token to the login process; the
 * imapd parent, not the login process, redeems it (AUTH_REDEEM) before
 * it forks the mail process.  A compromised login process can so start
 * a mail process only for a user whose password it was given: it never
 * names a mailbox itself.  A token is good once, for the service it was
 * issued for, and for AUTH_TOKEN_TTL seconds; the table is bounded, the
 * oldest token goes first.  Event loop only (no lock).
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/tree.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "proto.h"
#include "authd.h"

#define TOKEN_BYTES	24		/* 192 random bits */
#define TOKENS_MAX	4096		/* issued and not yet redeemed */

struct token {
	RB_ENTRY(token)		 entry;
	TAILQ_ENTRY(token)	 age;
	char			 hex[TOKEN_BYTES * 2 + 1];
	char			 service[16];
	char			 user[AUTHD_KEY_MAX];
	struct user_result	 ur;
	time_t			 expires;	/* CLOCK_MONOTONIC seconds */
};

static int	token_cmp(struct token *, struct token *);

RB_HEAD(token_tree, token);
RB_PROTOTYPE_STATIC(token_tree, token, entry, token_cmp);
RB_GENERATE_STATIC(token_tree, token, entry, token_cmp);

static struct token_tree	 tokens = RB_INITIALIZER(&tokens);
static TAILQ_HEAD(, token)	 by_age = TAILQ_HEAD_INITIALIZER(by_age);
static size_t			 ntokens;

static int
token_cmp(struct token *a, struct token *b)
{
	return strcmp(a->hex, b->hex);
}

static time_t
token_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static void
token_free(struct token *t)
{
	RB_REMOVE(token_tree, &tokens, t);
	TAILQ_REMOVE(&by_age, t, age);
	ntokens--;
	explicit_bzero(t, sizeof(*t));
	free(t);
}

/* Expired ones, and the oldest while the table is full. */
static void
token_expire(void)
{
	struct token	*t;
	time_t		 now = token_now();

	while ((t = TAILQ_FIRST(&by_age)) != NULL &&
	    (t->expires <= now || ntokens >= TOKENS_MAX))
		token_free(t);
}

/* Services whose logins get a token. */
int
token_service(const char *service)
{
	return strcmp(service, "imap") == 0 || strcmp(service, "pop3") == 0;
}

/* A new token for user's mailbox ur into hex: 0, or -1 (logged). */
int
token_issue(const char *service, const char *user,
    const struct user_result *ur, char *hex, size_t hexsz)
{
	static const char	 digits[] = "0123456789abcdef";
	struct token		*t;
	uint8_t			 raw[TOKEN_BYTES];
	size_t			 i;

	token_expire();
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		log_warn("%s", __func__);
		return -1;
	}
	arc4random_buf(raw, sizeof(raw));
	for (i = 0; i < sizeof(raw); i++) {
		t->hex[2 * i] = digits[raw[i] >> 4];
		t->hex[2 * i + 1] = digits[raw[i] & 0xf];
	}
	explicit_bzero(raw, sizeof(raw));
	if (strlcpy(t->service, service, sizeof(t->service)) >=
	    sizeof(t->service) || strlcpy(t->user, user, sizeof(t->user)) >=
	    sizeof(t->user) || strlcpy(hex, t->hex, hexsz) >= hexsz) {
		log_warnx("%s: too long", __func__);
		free(t);
		return -1;
	}
	t->ur = *ur;
	t->expires = token_now() + AUTH_TOKEN_TTL;
	RB_INSERT(token_tree, &tokens, t);
	TAILQ_INSERT_TAIL(&by_age, t, age);
	ntokens++;
	return 0;
}

/*
 * The mailbox of a token, which is then gone: LOOKUP_OK, or
 * LOOKUP_NOUSER for a token unknown, expired, used, or of another
 * service.
 */
int
token_redeem(const char *hex, const char *service, char *user,
    size_t usersz, struct user_result *ur)
{
	struct token	 key, *t;

	token_expire();
	if (strlcpy(key.hex, hex, sizeof(key.hex)) >= sizeof(key.hex))
		return LOOKUP_NOUSER;
	if ((t = RB_FIND(token_tree, &tokens, &key)) == NULL)
		return LOOKUP_NOUSER;
	/* A token asked for by the wrong service is spent all the same. */
	if (strcmp(t->service, service) != 0) {
		token_free(t);
		return LOOKUP_NOUSER;
	}
	strlcpy(user, t->user, usersz);
	*ur = t->ur;
	token_free(t);
	return LOOKUP_OK;
}
