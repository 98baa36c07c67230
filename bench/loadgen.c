/*
 * The load client of bench/run.py: one thread, level-triggered epoll,
 * non-blocking sockets, so that it costs far less per message than any
 * Python server it drives and is never the bottleneck (it runs on the other
 * core; bench/README.md).
 *
 *   loadgen echo  PORT CONNECTIONS SIZE SECONDS WARMUP IDLE
 *   loadgen churn PORT CONCURRENCY SIZE SECONDS WARMUP
 *
 * echo:  IDLE connections are opened first, each proving that the server
 *        accepted and registered it by echoing one byte, and then held open
 *        without traffic; then CONNECTIONS connections play ping-pong with
 *        SIZE-byte messages, one in flight on each.
 * churn: CONCURRENCY clients each connect, send SIZE bytes, read them back
 *        and close, over and over.
 *
 * Nothing is counted during the first WARMUP seconds; then for SECONDS
 * seconds.  When counting starts it prints "measuring"; at the end, the line
 *
 *   rate=<per second> count=<measured> total=<including warmup> elapsed=<s>
 *
 * where a unit is a round trip (echo) or a whole connection (churn).  total
 * is what bench/run.py divides strace's epoll_ctl count by.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what) {
    perror(what);
    exit(2);
}

static struct sockaddr_in server;

static int openSocket(void) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&server, sizeof server) < 0 &&
        errno != EINPROGRESS)
        die("connect");
    return fd;
}

static void watch(int ep, int op, int fd, unsigned events) {
    struct epoll_event ev = {.events = events, .data.fd = fd};
    if (epoll_ctl(ep, op, fd, &ev) < 0) die("epoll_ctl");
}

/* Per-descriptor state: bytes received of the current message. */
static int *got;

/*
 * Open IDLE connections, at most 64 in flight so that the server's listen
 * backlog (Twisted's default is 50) never overflows, and return once every
 * one has had its byte echoed: the server then holds all of them.
 */
static void openIdle(int ep, int idle) {
    int opened = 0, done = 0, inflight = 0;
    struct epoll_event events[256];
    double deadline = now() + 120;
    while (done < idle) {
        while (inflight < 64 && opened < idle) {
            int fd = openSocket();
            watch(ep, EPOLL_CTL_ADD, fd, EPOLLOUT);
            got[fd] = 0;
            opened++;
            inflight++;
        }
        int n = epoll_wait(ep, events, 256, 1000);
        if (n < 0 && errno != EINTR) die("epoll_wait");
        if (now() > deadline) {
            fprintf(stderr, "loadgen: only %d of %d idle connections\n", done, idle);
            exit(3);
        }
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            char byte = 'i';
            if (events[i].events & (EPOLLERR | EPOLLHUP)) die("idle connection failed");
            if (events[i].events & EPOLLOUT) {
                if (send(fd, &byte, 1, MSG_NOSIGNAL) != 1) die("idle send");
                watch(ep, EPOLL_CTL_MOD, fd, EPOLLIN);
            } else if (events[i].events & EPOLLIN) {
                if (recv(fd, &byte, 1, 0) != 1) die("idle recv");
                watch(ep, EPOLL_CTL_DEL, fd, 0);
                done++;
                inflight--;
            }
        }
    }
}

/* A connection in progress became writable: fail on an error, else send
   the first message and from then on wait only to read. */
static void connected(int ep, int fd, unsigned events, const char *message,
                      int size) {
    if (events & (EPOLLERR | EPOLLHUP)) die("connect failed");
    if (send(fd, message, size, MSG_NOSIGNAL) != size) die("send");
    got[fd] = 0;
    watch(ep, EPOLL_CTL_MOD, fd, EPOLLIN);
}

static int echo(int port, int connections, int size, double seconds,
                double warmup, int idle) {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) die("epoll_create1");
    char *message = malloc(size), *buffer = malloc(65536);
    memset(message, 'x', size);
    openIdle(ep, idle);

    long total = 0, atStart = -1;
    for (int i = 0; i < connections; i++) {
        int fd = openSocket();
        got[fd] = -1; /* connecting */
        watch(ep, EPOLL_CTL_ADD, fd, EPOLLOUT);
    }
    struct epoll_event events[256];
    double start = now(), measureFrom = start + warmup, end = measureFrom + seconds;
    double t = start, measuredAt = 0;
    while (t < end) {
        int n = epoll_wait(ep, events, 256, 100);
        if (n < 0 && errno != EINTR) die("epoll_wait");
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (got[fd] < 0) {
                connected(ep, fd, events[i].events, message, size);
                continue;
            }
            ssize_t r = recv(fd, buffer, 65536, 0);
            if (r <= 0) {
                if (r < 0 && errno == EAGAIN) continue;
                fprintf(stderr, "loadgen: server closed a connection\n");
                exit(3);
            }
            got[fd] += r;
            if (got[fd] >= size) {
                got[fd] -= size;
                total++;
                if (send(fd, message, size, MSG_NOSIGNAL) != size) die("send");
            }
        }
        t = now();
        if (atStart < 0 && t >= measureFrom) {
            atStart = total;
            measuredAt = t;
            /* Tells bench/run.py to read the server's CPU time now. */
            printf("measuring\n");
        }
    }
    if (atStart < 0) atStart = 0, measuredAt = start;
    double elapsed = t - measuredAt;
    long count = total - atStart;
    printf("rate=%.1f count=%ld total=%ld elapsed=%.3f\n", count / elapsed, count,
           total, elapsed);
    return 0;
}

static int churn(int port, int concurrency, int size, double seconds,
                 double warmup) {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) die("epoll_create1");
    char *message = malloc(size), *buffer = malloc(65536);
    memset(message, 'x', size);
    long total = 0, atStart = -1;
    for (int i = 0; i < concurrency; i++) {
        int fd = openSocket();
        got[fd] = -1;
        watch(ep, EPOLL_CTL_ADD, fd, EPOLLOUT);
    }
    struct epoll_event events[256];
    double start = now(), measureFrom = start + warmup, end = measureFrom + seconds;
    double t = start, measuredAt = 0;
    while (t < end) {
        int n = epoll_wait(ep, events, 256, 100);
        if (n < 0 && errno != EINTR) die("epoll_wait");
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (got[fd] < 0) {
                connected(ep, fd, events[i].events, message, size);
                continue;
            }
            ssize_t r = recv(fd, buffer, 65536, 0);
            if (r < 0 && errno == EAGAIN) continue;
            if (r <= 0) die("churn recv");
            got[fd] += r;
            if (got[fd] >= size) {
                /* One echo done: close (which also drops it from epoll) and
                 * start the next connection in its place. */
                close(fd);
                total++;
                int next = openSocket();
                got[next] = -1;
                watch(ep, EPOLL_CTL_ADD, next, EPOLLOUT);
            }
        }
        t = now();
        if (atStart < 0 && t >= measureFrom) {
            atStart = total;
            measuredAt = t;
            /* Tells bench/run.py to read the server's CPU time now. */
            printf("measuring\n");
        }
    }
    if (atStart < 0) atStart = 0, measuredAt = start;
    double elapsed = t - measuredAt;
    long count = total - atStart;
    printf("rate=%.1f count=%ld total=%ld elapsed=%.3f\n", count / elapsed, count,
           total, elapsed);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 7) {
        fprintf(stderr,
                "usage: loadgen echo PORT CONNECTIONS SIZE SECONDS WARMUP IDLE\n"
                "       loadgen churn PORT CONCURRENCY SIZE SECONDS WARMUP\n");
        return 1;
    }
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
    got = calloc(limit.rlim_cur + 16, sizeof *got);
    server.sin_family = AF_INET;
    server.sin_port = htons(atoi(argv[2]));
    server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int n = atoi(argv[3]), size = atoi(argv[4]);
    double seconds = atof(argv[5]), warmup = atof(argv[6]);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (strcmp(argv[1], "echo") == 0)
        return echo(atoi(argv[2]), n, size, seconds, warmup,
                    argc > 7 ? atoi(argv[7]) : 0);
    if (strcmp(argv[1], "churn") == 0)
        return churn(atoi(argv[2]), n, size, seconds, warmup);
    fprintf(stderr, "loadgen: unknown mode %s\n", argv[1]);
    return 1;
}
