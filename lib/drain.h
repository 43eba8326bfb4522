/*
 * A bounded wait before exit: a process told to stop keeps its event
 * loop running until the answers it owes are in (a count it reports),
 * or until a deadline, and only then exits.  Exiting at once would drop
 * answers already earned, such as a 250 for mail already stored, and
 * the client, told nothing, would send it again.
 */

#ifndef TSAMBA_DRAIN_H
#define TSAMBA_DRAIN_H

/* How many answers are still owed. */
typedef unsigned int	(*drain_pending_cb)(void);
/* The end of the wait; must not return (NULL: exit(status)). */
typedef void		(*drain_done_cb)(int status);

/*
 * Start the wait (a second call only checks again): what names the
 * answers in the log lines, sec bounds the wait, status is the one the
 * process exits with.  Needs a running libevent loop.
 */
void	drain_start(const char *what, drain_pending_cb, int sec,
	    drain_done_cb, int status);
/* Non-zero once drain_start() was called. */
int	drain_active(void);
/* Something may have been answered: end the wait now if it is done. */
void	drain_check(void);

#endif
