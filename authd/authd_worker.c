/*
 * The worker pool: every table lookup and every password hash runs in
 * one of a few threads, so one slow query or one slow hash does not
 * hold up the other requests.  The event loop submits jobs to a queue;
 * a worker runs one, puts it on the done queue and writes a byte to a
 * pipe whose read end the event loop watches; the loop then answers the
 * client (if it is still connected) from its own thread.
 */

#include <sys/types.h>
#include <sys/queue.h>

#include <errno.h>
#include <event.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "stats.h"
#include "authd.h"

#define WORKERS_MAX	64

TAILQ_HEAD(jobq, job);

static pthread_mutex_t	 lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 cond = PTHREAD_COND_INITIALIZER;
static struct jobq	 todo = TAILQ_HEAD_INITIALIZER(todo);
static struct jobq	 done = TAILQ_HEAD_INITIALIZER(done);
static int		 stopping;
static pthread_t	 threads[WORKERS_MAX];
static unsigned int	 nthreads;
static int		 wake[2] = { -1, -1 };
static struct event	 wake_ev;

static void *
worker_main(void *arg)
{
	struct job	*j;
	struct timespec	 t0;
	char		 c = 0;

	table_thread_start();
	for (;;) {
		pthread_mutex_lock(&lock);
		while (TAILQ_EMPTY(&todo) && !stopping)
			pthread_cond_wait(&cond, &lock);
		if (stopping) {
			pthread_mutex_unlock(&lock);
			break;
		}
		j = TAILQ_FIRST(&todo);
		TAILQ_REMOVE(&todo, j, entry);
		pthread_mutex_unlock(&lock);

		clock_gettime(CLOCK_MONOTONIC, &t0);
		j->run(j);
		stats_observe(ST_AUTHD_QUERY_TIME, 0, stats_usec_since(&t0));

		pthread_mutex_lock(&lock);
		TAILQ_INSERT_TAIL(&done, j, entry);
		pthread_mutex_unlock(&lock);
		/* A full pipe already holds a wake-up: nothing is lost. */
		while (write(wake[1], &c, 1) == -1 && errno == EINTR)
			;
	}
	table_thread_stop();
	return NULL;
}

/* In the event loop: answer what the workers finished. */
static void
worker_collect(int fd, short ev, void *arg)
{
	struct jobq	 ready;
	struct job	*j;
	char		 buf[256];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	TAILQ_INIT(&ready);
	pthread_mutex_lock(&lock);
	TAILQ_CONCAT(&ready, &done, entry);
	pthread_mutex_unlock(&lock);
	while ((j = TAILQ_FIRST(&ready)) != NULL) {
		TAILQ_REMOVE(&ready, j, entry);
		j->done(j);
	}
}

void
worker_start(unsigned int n)
{
	unsigned int	 i;
	int		 fl, k;

	if (n == 0)
		n = 1;
	if (n > WORKERS_MAX)
		n = WORKERS_MAX;
	if (pipe2(wake, O_CLOEXEC) == -1)
		fatal("pipe2");
	for (k = 0; k < 2; k++)
		if ((fl = fcntl(wake[k], F_GETFL)) == -1 ||
		    fcntl(wake[k], F_SETFL, fl | O_NONBLOCK) == -1)
			fatal("fcntl");
	for (i = 0; i < n; i++) {
		if ((errno = pthread_create(&threads[i], NULL, worker_main,
		    NULL)) != 0)
			fatal("pthread_create");
		nthreads++;
	}
	event_set(&wake_ev, wake[0], EV_READ | EV_PERSIST, worker_collect,
	    NULL);
	if (event_add(&wake_ev, NULL) == -1)
		fatal("event_add");
	log_debug("%u workers", n);
}

void
worker_submit(struct job *j)
{
	pthread_mutex_lock(&lock);
	TAILQ_INSERT_TAIL(&todo, j, entry);
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&lock);
}

/* Jobs still queued are dropped: their clients are going away too. */
void
worker_stop(void)
{
	struct job	*j;
	unsigned int	 i;

	if (nthreads == 0)
		return;
	pthread_mutex_lock(&lock);
	stopping = 1;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	for (i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);
	nthreads = 0;
	event_del(&wake_ev);
	while ((j = TAILQ_FIRST(&todo)) != NULL) {
		TAILQ_REMOVE(&todo, j, entry);
		free(j->rcpt);
		free(j->user);
		explicit_bzero(j, sizeof(*j));
		free(j);
	}
	while ((j = TAILQ_FIRST(&done)) != NULL) {
		TAILQ_REMOVE(&done, j, entry);
		free(j->rcpt);
		free(j->user);
		explicit_bzero(j, sizeof(*j));
		free(j);
	}
	close(wake[0]);
	close(wake[1]);
}
