/*
 * One POP3 session per mailbox (pop3_lock.c).
 */

#ifndef POP3_LOCK_H
#define POP3_LOCK_H

int	pop3_lock_take(int md);
void	pop3_lock_release(int md, int fd);

#endif
