/*
 * fuzz_envelope: libFuzzer target for queue/queue_envelope.c, the reader
 * of the spool after a crash.  Besides crashes and leaks it checks what
 * the queue relies on when it loads an envelope it accepted: the id is a
 * queue id (it becomes a path), there is a recipient and none is empty,
 * every field is within its range; and that the envelope survives being
 * written again: its encoding parses back to the same encoding.
 *
 * Build and run from the top of the tree:
 *   make regress/fuzz/fuzz_envelope
 *   ./regress/fuzz/fuzz_envelope -max_total_time=60 -max_len=4096
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../queue/queue.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Spelled out, not msgid_valid(): the check must not be the code tested. */
static int
is_queue_id(const char *s)
{
	size_t	 i;

	for (i = 0; i < MSGID_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[MSGID_LEN] == '\0';
}

static void
check_fields(const struct envelope *env)
{
	const struct rcpt	*r;
	size_t			 n = 0;

	if (!is_queue_id(env->id) || env->nrcpts == 0 || env->body > 2 ||
	    env->smtputf8 > 1 || env->held > 1 || env->warned > 1 ||
	    env->created < 0)
		abort();
	TAILQ_FOREACH(r, &env->rcpts, entry) {
		if (r->addr[0] == '\0' || r->state > RCPT_FAILED ||
		    r->next_try < 0)
			abort();
		n++;
	}
	if (n != env->nrcpts)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct envelope	 env, again;
	char		 err[256];
	char		*text, *text2;
	size_t		 len, len2;

	if (envelope_parse((const char *)data, size, &env, err,
	    sizeof(err)) == -1) {
		/* A refusal says why, and leaves nothing allocated. */
		if (err[0] == '\0' || env.nrcpts != 0 ||
		    !TAILQ_EMPTY(&env.rcpts))
			abort();
		return 0;
	}
	check_fields(&env);
	if ((text = envelope_encode(&env, &len)) == NULL)
		abort();
	if (envelope_parse(text, len, &again, err, sizeof(err)) == -1)
		abort();
	if ((text2 = envelope_encode(&again, &len2)) == NULL)
		abort();
	if (len != len2 || memcmp(text, text2, len) != 0 ||
	    again.nrcpts != env.nrcpts)
		abort();
	free(text);
	free(text2);
	envelope_clear(&again);
	envelope_clear(&env);
	return 0;
}
