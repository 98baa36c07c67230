/*
 * The load client of bench/run.py: one thread, level-triggered epoll,
 * non-blocking sockets, so that it costs far less per message than any
 * Python server it drives and is never the bottleneck (it runs on the other
 * core; bench/README.md).
 *
 *   loadgen echo  PORT CONNECTIONS SIZE SECONDS WARMUP IDLE [NODELAY]
 *   loadgen churn PORT CONCURRENCY SIZE SECONDS WARMUP
 *   loadgen sink  PORT CONNECTIONS SECONDS WARMUP
 *   loadgen httpd PORT SIZE LIFETIME
 *
 * echo:  IDLE connections are opened first, each proving that the server
 *        accepted and registered it by echoing one byte, and then held open
 *        without traffic; then CONNECTIONS connections play ping-pong with
 *        SIZE-byte messages, one in flight on each (a message larger than
 *        the socket buffer is sent as the socket takes it).  Each round
 *        trip's latency, from the first byte sent to the last received, is
 *        kept for the percentiles.  NODELAY 0 leaves Nagle's algorithm on
 *        in the client, as vmbench's Python client has it (default 1).
 * churn: CONCURRENCY clients each connect, send SIZE bytes, read them back
 *        and close, over and over.
 * sink:  CONNECTIONS connections read whatever the server sends; a unit is
 *        a byte.
 * httpd: not a client: the backend of the proxy benchmark.  Listens on PORT
 *        (0: any; it prints "port=<n>"), and answers every HTTP request
 *        (whatever ends in an empty line) on a keep-alive connection with a
 *        200 response of SIZE bytes.  Exits after LIFETIME seconds at most.
 *
 * Nothing is counted during the first WARMUP seconds; then for SECONDS
 * seconds.  When counting starts it prints "measuring"; at the end, the line
 *
 *   rate=<per second> count=<measured> total=<including warmup> elapsed=<s>
 *
 * where a unit is a round trip (echo), a whole connection (churn) or a
 * byte (sink); echo adds p50=, p99= and max=, the round trip's latency
 * percentiles in microseconds.  total is what bench/run.py divides strace's
 * epoll_ctl count by.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
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
/* Whether clients set TCP_NODELAY (echo's NODELAY argument). */
static int noDelay = 1;

static int openSocket(void) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket");
    int one = 1;
    if (noDelay) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
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

/* Latencies of the measured round trips, in microseconds. */
static double *latencies;
static long latencyCount, latencyCapacity;

static void keepLatency(double microseconds) {
    if (latencyCount == latencyCapacity) {
        latencyCapacity = latencyCapacity ? latencyCapacity * 2 : 65536;
        latencies = realloc(latencies, latencyCapacity * sizeof *latencies);
        if (latencies == NULL) die("realloc");
    }
    latencies[latencyCount++] = microseconds;
}

static int byValue(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Per-descriptor state of echo: bytes of the current message sent, and
   when its first byte went. */
static int *sent;
static double *began;

/* Send what is left of fd's message; wait for EPOLLOUT while some is. */
static void sendSome(int ep, int fd, const char *message, int size) {
    while (sent[fd] < size) {
        ssize_t w = send(fd, message + sent[fd], size - sent[fd], MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN) break;
            die("send");
        }
        sent[fd] += w;
    }
    watch(ep, EPOLL_CTL_MOD, fd, sent[fd] < size ? EPOLLIN | EPOLLOUT : EPOLLIN);
}

static void startMessage(int ep, int fd, const char *message, int size) {
    sent[fd] = 0;
    began[fd] = now();
    sendSome(ep, fd, message, size);
}

static int echo(int port, int connections, int size, double seconds,
                double warmup, int idle) {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) die("epoll_create1");
    char *message = malloc(size), *buffer = malloc(1 << 20);
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
                if (events[i].events & (EPOLLERR | EPOLLHUP)) die("connect failed");
                got[fd] = 0;
                startMessage(ep, fd, message, size);
                continue;
            }
            if (events[i].events & EPOLLOUT && sent[fd] < size)
                sendSome(ep, fd, message, size);
            if (!(events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) continue;
            ssize_t r = recv(fd, buffer, 1 << 20, 0);
            if (r <= 0) {
                if (r < 0 && errno == EAGAIN) continue;
                fprintf(stderr, "loadgen: server closed a connection\n");
                exit(3);
            }
            got[fd] += r;
            if (got[fd] >= size) {
                got[fd] -= size;
                total++;
                if (atStart >= 0) keepLatency((now() - began[fd]) * 1e6);
                startMessage(ep, fd, message, size);
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
    double p50 = 0, p99 = 0, worst = 0;
    if (latencyCount) {
        qsort(latencies, latencyCount, sizeof *latencies, byValue);
        p50 = latencies[(long)(latencyCount * 0.50)];
        p99 = latencies[(long)(latencyCount * 0.99)];
        worst = latencies[latencyCount - 1];
    }
    printf("rate=%.1f count=%ld total=%ld elapsed=%.3f p50=%.1f p99=%.1f max=%.1f\n",
           count / elapsed, count, total, elapsed, p50, p99, worst);
    return 0;
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

static int sink(int port, int connections, double seconds, double warmup) {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) die("epoll_create1");
    char *buffer = malloc(1 << 20);
    for (int i = 0; i < connections; i++) watch(ep, EPOLL_CTL_ADD, openSocket(), EPOLLIN);
    long total = 0, atStart = -1;
    struct epoll_event events[256];
    double start = now(), measureFrom = start + warmup, end = measureFrom + seconds;
    double t = start, measuredAt = 0;
    while (t < end) {
        int n = epoll_wait(ep, events, 256, 100);
        if (n < 0 && errno != EINTR) die("epoll_wait");
        for (int i = 0; i < n; i++) {
            ssize_t r = recv(events[i].data.fd, buffer, 1 << 20, 0);
            if (r < 0 && errno == EAGAIN) continue;
            if (r <= 0) die("sink recv");
            total += r;
        }
        t = now();
        if (atStart < 0 && t >= measureFrom) {
            atStart = total;
            measuredAt = t;
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

/* httpd: per connection, how far into "\r\n\r\n" the request has got, and
   how much of the current response is left to send. */
static int *matched;
static long *owed;

static void respond(int ep, int fd, const char *response, long length) {
    while (owed[fd] > 0) {
        long offset = length - owed[fd];
        ssize_t w = send(fd, response + offset, owed[fd], MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN) break;
            close(fd);
            owed[fd] = 0;
            return;
        }
        owed[fd] -= w;
    }
    watch(ep, EPOLL_CTL_MOD, fd, owed[fd] ? EPOLLOUT : EPOLLIN);
}

static int httpd(int port, long size, double lifetime) {
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in address = {.sin_family = AF_INET,
                                  .sin_port = htons(port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(listener, (struct sockaddr *)&address, sizeof address) < 0) die("bind");
    if (listen(listener, 1024) < 0) die("listen");
    socklen_t length = sizeof address;
    getsockname(listener, (struct sockaddr *)&address, &length);
    char header[128];
    int headerLength = snprintf(header, sizeof header,
                                "HTTP/1.1 200 OK\r\nContent-Length: %ld\r\n"
                                "Content-Type: application/octet-stream\r\n\r\n",
                                size);
    long responseLength = headerLength + size;
    char *response = malloc(responseLength);
    memcpy(response, header, headerLength);
    memset(response + headerLength, 'x', size);
    struct rlimit limit;
    getrlimit(RLIMIT_NOFILE, &limit);
    matched = calloc(limit.rlim_cur + 16, sizeof *matched);
    owed = calloc(limit.rlim_cur + 16, sizeof *owed);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    watch(ep, EPOLL_CTL_ADD, listener, EPOLLIN);
    printf("port=%d\n", ntohs(address.sin_port));
    char buffer[65536];
    struct epoll_event events[256];
    double end = now() + lifetime;
    while (now() < end) {
        int n = epoll_wait(ep, events, 256, 100);
        if (n < 0 && errno != EINTR) die("epoll_wait");
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == listener) {
                int client;
                while ((client = accept4(listener, NULL, NULL,
                                         SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    matched[client] = 0;
                    owed[client] = 0;
                    watch(ep, EPOLL_CTL_ADD, client, EPOLLIN);
                }
                continue;
            }
            if (owed[fd]) {
                respond(ep, fd, response, responseLength);
                continue;
            }
            ssize_t r = recv(fd, buffer, sizeof buffer, 0);
            if (r < 0 && errno == EAGAIN) continue;
            if (r <= 0) {
                close(fd);
                continue;
            }
            for (ssize_t k = 0; k < r; k++) {
                char c = buffer[k];
                int want = (matched[fd] % 2 == 0) ? '\r' : '\n';
                matched[fd] = c == want ? matched[fd] + 1 : (c == '\r' ? 1 : 0);
                if (matched[fd] == 4) {
                    /* Pipelined requests beyond the first are answered only
                       once this response is out; wrk does not pipeline. */
                    matched[fd] = 0;
                    owed[fd] = responseLength;
                }
            }
            if (owed[fd]) respond(ep, fd, response, responseLength);
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr,
                "usage: loadgen echo PORT CONNECTIONS SIZE SECONDS WARMUP IDLE [NODELAY]\n"
                "       loadgen churn PORT CONCURRENCY SIZE SECONDS WARMUP\n"
                "       loadgen sink  PORT CONNECTIONS SECONDS WARMUP\n"
                "       loadgen httpd PORT SIZE LIFETIME\n");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
    got = calloc(limit.rlim_cur + 16, sizeof *got);
    sent = calloc(limit.rlim_cur + 16, sizeof *sent);
    began = calloc(limit.rlim_cur + 16, sizeof *began);
    server.sin_family = AF_INET;
    server.sin_port = htons(atoi(argv[2]));
    server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (strcmp(argv[1], "httpd") == 0)
        return httpd(atoi(argv[2]), atol(argv[3]), atof(argv[4]));
    if (argc < 6) return main(0, argv);
    if (strcmp(argv[1], "sink") == 0)
        return sink(atoi(argv[2]), atoi(argv[3]), atof(argv[4]), atof(argv[5]));
    if (argc < 7) return main(0, argv);
    int n = atoi(argv[3]), size = atoi(argv[4]);
    double seconds = atof(argv[5]), warmup = atof(argv[6]);
    if (strcmp(argv[1], "echo") == 0 && argc > 8) noDelay = atoi(argv[8]);
    if (strcmp(argv[1], "echo") == 0)
        return echo(atoi(argv[2]), n, size, seconds, warmup,
                    argc > 7 ? atoi(argv[7]) : 0);
    if (strcmp(argv[1], "churn") == 0)
        return churn(atoi(argv[2]), n, size, seconds, warmup);
    fprintf(stderr, "loadgen: unknown mode %s\n", argv[1]);
    return 1;
}
