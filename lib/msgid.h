/*
 * Queue ids: MSGID_LEN (lib/proto.h) lower-case hex digits, as the
 * queue makes them and names its spool files by them.  One rule for
 * the queue reading its spool and envelopes and for tsambactl checking
 * an id typed by an admin.
 */

#ifndef TSAMBA_MSGID_H
#define TSAMBA_MSGID_H

#include <stddef.h>

/* 1 if s (NUL-terminated) is a queue id, else 0. */
int	msgid_valid(const char *s);
/* 1 if the len bytes at s are a queue id, else 0. */
int	msgid_valid_len(const char *s, size_t len);

#endif
