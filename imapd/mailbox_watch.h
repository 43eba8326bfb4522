/*
 * inotify on a selected mailbox (mailbox_watch.c): for IDLE.
 */

#ifndef MAILBOX_WATCH_H
#define MAILBOX_WATCH_H

struct mailbox;

/* An inotify fd on the folder, new/ and cur/; -1 if none (then poll). */
int	mailbox_watch_open(const struct mailbox *, int home);
/* Empty its queue: 1 if there were events. */
int	mailbox_watch_drain(int);

#endif
