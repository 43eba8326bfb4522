/*
 * The mail transaction of a session (RFC 5321 3.3): made when MAIL FROM
 * is accepted, freed at RSET, a new MAIL, HELO/EHLO, STARTTLS, the end
 * of the message or of the session.  It holds the envelope, kept small
 * enough for one MSG_COMMIT imsg, and the spool file of the body; what
 * belongs to the connection (TLS, AUTH, HELO, errors) stays in the
 * session.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imsg.h"
#include "log.h"
#include "proto.h"
#include "smtpd.h"

struct smtp_tx *
smtp_tx_new(struct smtp_session *s, const char *sender, enum smtp_body body,
    int smtputf8)
{
	struct smtp_tx	*tx;

	if ((tx = calloc(1, sizeof(*tx))) == NULL) {
		log_warn("session %016llx: transaction",
		    (unsigned long long)s->id);
		return NULL;
	}
	tx->session = s;
	strlcpy(tx->sender, sender, sizeof(tx->sender));
	tx->body = body;
	tx->smtputf8 = smtputf8;
	TAILQ_INIT(&tx->rcpts);
	tx->bs.fd = -1;
	tx->milter_fd = -1;
	/* What MSG_COMMIT will hold besides its recipients. */
	tx->envsize = 8 + 2 + MSGID_LEN + 2 + strlen(tx->sender) + 2 +
	    strlen(s->helo) + 2 + strlen(s->ip) + 1 + 1 + 4 + 2 + 1 +
	    strlen(s->auth_user);
	return tx;
}

void
smtp_tx_free(struct smtp_tx *tx)
{
	if (tx == NULL)
		return;
	milter_tx_free(tx);
	if (tx->milter_fd != -1)
		close(tx->milter_fd);
	/* A body in progress is abandoned; the queue drops its file. */
	if (tx->msgid[0] != '\0') {
		data_abort(tx);
		engine_send_rollback(tx->msgid);
	}
	smtp_tx_drop_rcpts(tx, NULL, 0);
	check_free(tx->check);
	free(tx->fields);
	free(tx);
}

int
smtp_tx_add_rcpt(struct smtp_tx *tx, const char *mbox, uint8_t flags)
{
	struct smtp_rcpt	*r;
	size_t			 need;

	TAILQ_FOREACH(r, &tx->rcpts, entry)
		if (strcmp(r->addr, mbox) == 0)
			return 0;
	need = 2 + strlen(mbox) + 2 + strlen(tx->pending_orcpt) + 1;
	if (tx->envsize + need > IMSG_MAXPAYLOAD)
		return -1;
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		log_warn("session: calloc");
		return -1;
	}
	strlcpy(r->addr, mbox, sizeof(r->addr));
	strlcpy(r->orcpt, tx->pending_orcpt, sizeof(r->orcpt));
	r->flags = flags;
	TAILQ_INSERT_TAIL(&tx->rcpts, r, entry);
	tx->envsize += need;
	return 0;
}

void
smtp_tx_drop_rcpts(struct smtp_tx *tx, struct smtp_rcpt *mark,
    size_t envsize)
{
	struct smtp_rcpt	*r;

	while ((r = TAILQ_LAST(&tx->rcpts, smtp_rcpt_list)) != mark) {
		TAILQ_REMOVE(&tx->rcpts, r, entry);
		free(r);
	}
	if (mark != NULL)
		tx->envsize = envsize;
}
