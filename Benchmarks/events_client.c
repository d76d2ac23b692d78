/*
 * The load client of Benchmarks/events: websocket subscribers and HTTP/1.1 writers in one
 * single-threaded epoll loop (100 subscribers x 1000 changes/s is 100,000 frames/s, more than
 * Python parses). Built by Benchmarks/events with `cc -O2`; standard C and Linux only.
 *
 *   events_client lat  PORT AUTH COOKIE UUIDS SIZE SUBS CONNS RATE SECONDS DRAIN
 *       SUBS websockets (Cookie: async_auth=COOKIE) on /websocket, then CONNS keep-alive
 *       connections PUT /api/2.0/drives/<uuid>/ at RATE/s for SECONDS, round-robin over the
 *       uuids (one a line in UUIDS), each body carrying meta.t = the send time (ns,
 *       CLOCK_MONOTONIC). Then waits up to DRAIN seconds for the last frames. Prints one JSON
 *       object: per change and subscriber, the time from the send to the first frame showing
 *       that change or a later one of the same drive (the hub merges several changes of one
 *       drive within a publishing batch into one frame showing the latest state), what was
 *       never covered (lost), and what was merged, repeated or out of order. A drive's next
 *       PUT waits for the answer to its previous one (so its changes commit in send order);
 *       what is still due when SECONDS are up is not sent. The loop runs in 1 ms ticks.
 *
 *   events_client tput PORT AUTH COOKIE UUIDS SIZE STALLED READERS CONNS SECONDS DRAIN ADMIN EXTRA
 *       Closed loop: CONNS keep-alive connections each PUT (a rename) again as soon as the
 *       answer is in, for SECONDS. STALLED websockets (SO_RCVBUF 4096) complete the handshake
 *       and are never read while the load runs; READERS websockets are read (frames counted).
 *       One more connection polls /_drivesd/metrics (Authorization: ADMIN) every 100 ms: when
 *       drivesd_event_subscribers_closed_slow_total moves, the server gave up on the stalled
 *       subscriber. With a stalled subscriber the load goes on after SECONDS (not counted) until
 *       then, at most EXTRA seconds more. Then each stalled socket is drained (up to DRAIN
 *       seconds) to see how the server ended it: the frames it still held, then the close frame
 *       and its code.
 *
 * Only 127.0.0.1 is contacted. Every wait is bounded.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define MAXEV 256
#define HTTP_BUF (256 * 1024)
#define WS_BUF (1024 * 1024)

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *msg) {
    fprintf(stderr, "events_client: %s (errno %d: %s)\n", msg, errno, strerror(errno));
    exit(1);
}

static int port;
static const char *auth;   /* "Basic ..." */
static const char *cookie; /* async_auth value */
static char **uuids;
static int nuuids;
static long long drive_size;
static int epfd;
static int64_t *sent_t; /* lat mode: the send time of each change (its meta.t) */
static FILE *dump;      /* EVENTS_DUMP=path: subscriber 0's frames and every answer, one a line */

static int connect_to(int rcvbuf) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    if (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) < 0) die("SO_RCVBUF");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(0x7f000001);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) die("connect");
    return fd;
}

static void set_nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

/* Writes all of buf (the socket may be non-blocking: waits for POLLOUT, bounded). */
static void write_all(int fd, const char *buf, size_t len) {
    int64_t deadline = now_ns() + 30LL * 1000000000LL;
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (now_ns() > deadline) die("write timed out");
            struct pollfd p = {fd, POLLOUT, 0};
            poll(&p, 1, 100);
            continue;
        }
        die("send");
    }
}

static void ep_add(int fd, uint64_t tag) {
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
}

static void ep_del(int fd) { epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL); }

/* ------------------------------------------------------------------ HTTP writers */

typedef struct {
    int fd;
    char *buf;
    size_t len;
    int busy;
    int64_t sent_at;
    long long idx;
    int metrics; /* the connection that polls /_drivesd/metrics */
} http_conn;

static http_conn *hc;
static int nhc;
static long long status_counts[600];
static long long http_done, http_bad;
static int64_t *put_lat; /* ns, per answered request */
static long long nput_lat, cap_put_lat;
static http_conn mc; /* tput mode: polls /_drivesd/metrics */
static const char *admin_auth;
static long long closed_slow = -1, closed_slow_base = -1;
static char *drive_busy; /* per uuid: a PUT is in flight (lat mode sends a drive's next change after its answer) */

static void send_put(http_conn *c, long long idx, int64_t t, int rename) {
    char body[256], req[1024];
    const char *uuid = uuids[idx % nuuids];
    int blen;
    if (rename)
        blen = snprintf(body, sizeof body,
                        "{\"name\": \"r%lld\", \"size\": %lld, \"media\": \"disk\", \"meta\": {\"t\": \"%lld\"}}",
                        idx, drive_size, (long long)t);
    else
        blen = snprintf(body, sizeof body,
                        "{\"name\": \"n\", \"size\": %lld, \"media\": \"disk\", \"meta\": {\"t\": \"%lld\"}}", drive_size,
                        (long long)t);
    int rlen = snprintf(req, sizeof req,
                        "PUT /api/2.0/drives/%s/ HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: %s\r\n"
                        "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
                        uuid, port, auth, blen, body);
    c->busy = 1;
    c->sent_at = t;
    c->idx = idx;
    drive_busy[idx % nuuids] = 1;
    write_all(c->fd, req, (size_t)rlen);
}

/* Reads what is there; returns how many answers completed (0 or 1: one request in flight). */
static int http_read(http_conn *c) {
    int done = 0;
    for (;;) {
        if (c->len == HTTP_BUF) die("HTTP answer too large");
        size_t room = HTTP_BUF - c->len;
        ssize_t n = recv(c->fd, c->buf + c->len, room, 0);
        if (n == 0) {
            errno = 0;
            die("the server closed an HTTP connection");
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            die("recv (HTTP)");
        }
        c->len += (size_t)n;
        /* epoll is level-triggered: a short read took all there was (saves a recv per event) */
        if ((size_t)n < room) break;
    }
    for (;;) {
        char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
        if (!end) return done;
        size_t head = (size_t)(end - c->buf) + 4;
        int status = 0;
        if (c->len >= 12) status = atoi(c->buf + 9);
        long long cl = -1;
        int chunked = 0;
        for (char *p = c->buf; p < end; p++) {
            if (*p != '\n') continue;
            if (strncasecmp(p + 1, "content-length:", 15) == 0) cl = atoll(p + 16);
            if (strncasecmp(p + 1, "transfer-encoding:", 18) == 0) chunked = 1;
        }
        size_t total;
        if (chunked) {
            char *last = memmem(c->buf + head, c->len - head, "0\r\n\r\n", 5);
            if (!last) return done;
            total = (size_t)(last - c->buf) + 5;
        } else {
            if (cl < 0) cl = 0;
            total = head + (size_t)cl;
            if (c->len < total) return done;
        }
        if (c->metrics) {
            const char *k = "\ndrivesd_event_subscribers_closed_slow_total ";
            char *v = memmem(c->buf + head, total - head, k, strlen(k));
            if (status == 200 && v) {
                closed_slow = atoll(v + strlen(k));
                if (closed_slow_base < 0) closed_slow_base = closed_slow;
            } else if (status != 200) {
                fprintf(stderr, "events_client: /_drivesd/metrics answered %d\n", status);
            }
            memmove(c->buf, c->buf + total, c->len - total);
            c->len -= total;
            c->busy = 0;
            continue;
        }
        if (status > 0 && status < 600) status_counts[status]++;
        if (dump && sent_t)
            fprintf(dump, "answer change %lld status %d sent %lld recv %lld\n", c->idx, status, (long long)c->sent_at,
                    (long long)now_ns());
        if (status >= 200 && status < 300) {
            http_done++;
            if (nput_lat < cap_put_lat) put_lat[nput_lat++] = now_ns() - c->sent_at;
        } else {
            http_bad++;
            if (http_bad <= 3) fprintf(stderr, "events_client: answer %d: %.*s\n", status, (int)(c->len < 600 ? c->len : 600), c->buf);
        }
        memmove(c->buf, c->buf + total, c->len - total);
        c->len -= total;
        c->busy = 0;
        drive_busy[c->idx % nuuids] = 0;
        done++;
    }
}

/* ------------------------------------------------------------------ websockets */

enum { WS_HANDSHAKE, WS_OPEN, WS_CLOSED };

typedef struct {
    int fd;
    int state;
    char *buf;
    size_t len;
    int close_code; /* -1: none received */
    int eof;
    long long frames, tframes, other, bytes;
    long long distinct; /* frames showing a change newer than any shown before (lat mode) */
    /* lat mode */
    long long *next;  /* per drive: the oldest change not yet covered */
    long long *shown; /* per drive: the newest change shown so far (-1: none) */
} ws_conn;

static ws_conn *ws;
static int nws;

static void ws_handshake_send(ws_conn *w) {
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "GET /websocket HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: ZHJpdmVzZC1ldmVudHMtYmVuY2g=\r\nSec-WebSocket-Version: 13\r\n"
                     "Cookie: async_auth=%s\r\n\r\n",
                     port, cookie);
    write_all(w->fd, req, (size_t)n);
}

/* A masked control frame from the client (a pong, or the close answer). */
static void ws_send_control(ws_conn *w, int opcode, const char *payload, size_t len) {
    unsigned char f[2 + 4 + 125];
    if (len > 125) len = 125;
    f[0] = (unsigned char)(0x80 | opcode);
    f[1] = (unsigned char)(0x80 | len);
    unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
    memcpy(f + 2, mask, 4);
    for (size_t i = 0; i < len; i++) f[6 + i] = (unsigned char)payload[i] ^ mask[i % 4];
    write_all(w->fd, (const char *)f, 6 + len);
}

/* lat mode: what was sent */
static long long nsent, cap_sent;
static int64_t *lat; /* per (subscriber, change) covered */
static long long nlat, cap_lat;
static long long merged, repeated, reordered, unmatched;
static int ndrives;

static long long find_change(int64_t t) {
    long long lo = 0, hi = nsent - 1;
    while (lo <= hi) {
        long long mid = (lo + hi) / 2;
        if (sent_t[mid] == t) return mid;
        if (sent_t[mid] < t) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

static void on_text(ws_conn *w, const char *p, size_t len, int64_t at) {
    w->frames++;
    const char *m = memmem(p, len, "\"t\": \"", 6);
    if (!m) {
        w->other++;
        return;
    }
    w->tframes++;
    if (!sent_t) return;
    int64_t t = strtoll(m + 6, NULL, 10);
    long long j = find_change(t);
    if (j < 0) {
        unmatched++;
        return;
    }
    int d = (int)(j % ndrives);
    if (dump && w == ws) {
        const char *u = memmem(p, len, "/drives/", 8);
        fprintf(dump, "frame %lld recv %lld change %lld drive %d uuid %.36s%s\n", (long long)w->tframes, (long long)at, j, d,
                u ? u + 8 : "?", j < w->shown[d] ? " OLDER-THAN-SHOWN" : (j == w->shown[d] ? " REPEAT" : ""));
    }
    if (j < w->shown[d]) reordered++;
    else if (j == w->shown[d]) repeated++;
    else {
        w->shown[d] = j;
        w->distinct++;
    }
    for (long long k = w->next[d]; k <= j; k += ndrives) {
        if (k != j) merged++;
        if (nlat < cap_lat) lat[nlat++] = at - sent_t[k];
        w->next[d] = k + ndrives;
    }
}

/* Parses the frames in the buffer. */
static void ws_parse(ws_conn *w, int64_t at) {
    size_t off = 0;
    if (w->state == WS_HANDSHAKE) {
        char *end = memmem(w->buf, w->len, "\r\n\r\n", 4);
        if (!end) return;
        if (w->len < 12 || strncmp(w->buf + 9, "101", 3) != 0) {
            fprintf(stderr, "events_client: handshake refused: %.*s\n", (int)(w->len < 500 ? w->len : 500), w->buf);
            exit(1);
        }
        off = (size_t)(end - w->buf) + 4;
        w->state = WS_OPEN;
    }
    while (w->state == WS_OPEN) {
        size_t avail = w->len - off;
        if (avail < 2) break;
        unsigned char *h = (unsigned char *)w->buf + off;
        int opcode = h[0] & 0x0f;
        int masked = h[1] & 0x80;
        uint64_t plen = h[1] & 0x7f;
        size_t hl = 2;
        if (plen == 126) {
            if (avail < 4) break;
            plen = ((uint64_t)h[2] << 8) | h[3];
            hl = 4;
        } else if (plen == 127) {
            if (avail < 10) break;
            plen = 0;
            for (int i = 0; i < 8; i++) plen = (plen << 8) | h[2 + i];
            hl = 10;
        }
        if (masked) {
            fprintf(stderr, "events_client: the server sent a masked frame\n");
            exit(1);
        }
        if (plen > WS_BUF - 16) die("frame too large");
        if (avail < hl + plen) break;
        const char *payload = (const char *)h + hl;
        w->bytes += (long long)(hl + plen);
        switch (opcode) {
        case 0x1: case 0x2: case 0x0: on_text(w, payload, (size_t)plen, at); break;
        case 0x9: ws_send_control(w, 0xA, payload, (size_t)plen); break;
        case 0xA: break;
        case 0x8:
            w->close_code = plen >= 2 ? (((unsigned char)payload[0] << 8) | (unsigned char)payload[1]) : 1005;
            ws_send_control(w, 0x8, payload, plen >= 2 ? 2 : 0);
            w->state = WS_CLOSED;
            break;
        }
        off += hl + (size_t)plen;
    }
    memmove(w->buf, w->buf + off, w->len - off);
    w->len -= off;
}

static void ws_read(ws_conn *w) {
    for (;;) {
        if (w->len == WS_BUF) die("websocket buffer full");
        size_t room = WS_BUF - w->len;
        ssize_t n = recv(w->fd, w->buf + w->len, room, 0);
        if (n == 0) {
            w->eof = 1;
            break;
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            if (errno == ECONNRESET) {
                w->eof = 1;
                break;
            }
            die("recv (websocket)");
        }
        w->len += (size_t)n;
        ws_parse(w, now_ns());
        if (w->state == WS_CLOSED) break;
        if ((size_t)n < room) break; /* level-triggered: the rest, if any, wakes us again */
    }
    if ((w->eof || w->state == WS_CLOSED) && w->fd >= 0) {
        if (w->state != WS_CLOSED) w->state = WS_CLOSED;
        ep_del(w->fd);
        close(w->fd);
        w->fd = -1;
    }
}

static void ws_open(ws_conn *w, int rcvbuf) {
    memset(w, 0, sizeof *w);
    w->close_code = -1;
    w->buf = malloc(WS_BUF);
    if (!w->buf) die("malloc");
    w->fd = connect_to(rcvbuf);
    ws_handshake_send(w);
}

/* Blocking handshake that reads no byte past the answer's head (for the stalled socket). */
static void ws_handshake_blocking(ws_conn *w) {
    struct timeval tv = {10, 0};
    setsockopt(w->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while (w->len < 4 || memcmp(w->buf + w->len - 4, "\r\n\r\n", 4) != 0) {
        ssize_t n = recv(w->fd, w->buf + w->len, 1, 0);
        if (n <= 0) die("stalled handshake");
        w->len++;
        if (w->len > 4000) die("handshake answer too long");
    }
    if (strncmp(w->buf + 9, "101", 3) != 0) {
        fprintf(stderr, "events_client: handshake refused: %.*s\n", (int)w->len, w->buf);
        exit(1);
    }
    w->len = 0;
    w->state = WS_OPEN;
}

/* ------------------------------------------------------------------ helpers */

static int cmp64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct_ms(int64_t *v, long long n, double q) {
    if (n == 0) return -1;
    long long i = (long long)(q * (double)(n - 1) + 0.5);
    return (double)v[i] / 1e6;
}

static void read_uuids(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) die("uuids file");
    char line[128];
    uuids = calloc(100000, sizeof *uuids);
    while (nuuids < 100000 && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (line[0]) uuids[nuuids++] = strdup(line);
    }
    fclose(f);
    if (nuuids == 0) die("no uuids");
    drive_busy = calloc((size_t)nuuids, 1);
}

static void open_http(int n) {
    nhc = n;
    hc = calloc((size_t)n, sizeof *hc);
    for (int i = 0; i < n; i++) {
        hc[i].fd = connect_to(0);
        hc[i].buf = malloc(HTTP_BUF);
        set_nonblock(hc[i].fd);
        ep_add(hc[i].fd, (uint64_t)(1000000 + i));
    }
}

static void dispatch(struct epoll_event *e) {
    uint64_t tag = e->data.u64;
    if (tag == 2000000) http_read(&mc);
    else if (tag >= 1000000) http_read(&hc[tag - 1000000]);
    else ws_read(&ws[tag]);
}

static int open_count(void) {
    int n = 0;
    for (int i = 0; i < nws; i++) n += ws[i].state == WS_OPEN;
    return n;
}

/* Opens n websockets in the loop and waits for every handshake (bounded). */
static void open_subscribers(int first, int n) {
    for (int i = first; i < first + n; i++) {
        ws_open(&ws[i], 0);
        set_nonblock(ws[i].fd);
        ep_add(ws[i].fd, (uint64_t)i);
    }
    int64_t deadline = now_ns() + 30LL * 1000000000LL;
    struct epoll_event evs[MAXEV];
    for (;;) {
        int pending = 0;
        for (int i = first; i < first + n; i++) pending += ws[i].state == WS_HANDSHAKE;
        if (!pending) break;
        if (now_ns() > deadline) {
            errno = 0;
            die("websocket handshakes did not complete within 30 s");
        }
        int k = epoll_wait(epfd, evs, MAXEV, 100);
        for (int i = 0; i < k; i++) dispatch(&evs[i]);
    }
}

/* ------------------------------------------------------------------ lat */

static int run_lat(int subs, int conns, double rate, double seconds, double drain) {
    ndrives = nuuids;
    cap_sent = (long long)(rate * seconds) + 16;
    sent_t = calloc((size_t)cap_sent, sizeof *sent_t);
    cap_lat = cap_sent * subs;
    lat = malloc((size_t)cap_lat * sizeof *lat);
    cap_put_lat = cap_sent;
    put_lat = malloc((size_t)cap_put_lat * sizeof *put_lat);
    nws = subs;
    ws = calloc((size_t)subs, sizeof *ws);
    open_subscribers(0, subs);
    for (int i = 0; i < subs; i++) {
        ws[i].next = malloc((size_t)ndrives * sizeof(long long));
        ws[i].shown = malloc((size_t)ndrives * sizeof(long long));
        for (int d = 0; d < ndrives; d++) {
            ws[i].next[d] = d;
            ws[i].shown[d] = -1;
        }
        /* frames before the load (none expected) do not count */
        ws[i].frames = ws[i].tframes = ws[i].other = ws[i].bytes = 0;
    }
    unmatched = 0;
    open_http(conns);

    /* The loop runs in ticks of 1 ms: it sleeps on the timer only, then takes everything the
       sockets have (100,000 frames/s arrive in batches instead of one wake-up each, which
       would cost the client as much CPU as the server's work on the same 2 cores). A frame's
       receive time is therefore up to 1 ms late: the latencies are that much high at most. */
    int tfd = timerfd_create(CLOCK_MONOTONIC, 0);
    struct itimerspec its = {{0, 1000000}, {0, 1000000}};
    timerfd_settime(tfd, 0, &its, NULL);

    long long total = (long long)(rate * seconds);
    double interval = 1e9 / rate;
    int64_t start = now_ns(), last_t = 0, max_lag = 0;
    long long late = 0;
    struct epoll_event evs[MAXEV];
    int64_t stop_at = 0;
    int stop_sending = 0;
    while (1) {
        uint64_t ticks;
        if (read(tfd, &ticks, sizeof ticks) < 0) die("timerfd");
        int k;
        do {
            k = epoll_wait(epfd, evs, MAXEV, 0);
            for (int i = 0; i < k; i++) dispatch(&evs[i]);
        } while (k == MAXEV);
        int64_t now = now_ns();
        /* paced sends: each due change goes out on a free connection */
        while (nsent < total && !stop_sending) {
            int64_t due = start + (int64_t)((double)nsent * interval);
            if (due > now) break;
            if (now - start >= (int64_t)(seconds * 1e9)) {
                /* the time is up: what is still due is not sent (the server kept it behind) */
                stop_sending = 1;
                break;
            }
            /* the drive's previous change must have its answer: then the order in which a
               drive's changes were sent is the order in which they committed */
            if (drive_busy[nsent % nuuids]) break;
            http_conn *free_c = NULL;
            for (int i = 0; i < nhc; i++)
                if (!hc[i].busy) {
                    free_c = &hc[i];
                    break;
                }
            if (!free_c) break;
            int64_t t = now_ns();
            if (t <= last_t) t = last_t + 1;
            last_t = t;
            if (t - due > max_lag) max_lag = t - due;
            if (t - due > 2000000) late++;
            sent_t[nsent] = t;
            send_put(free_c, nsent, t, 0);
            nsent++;
        }
        if ((nsent == total || stop_sending) && stop_at == 0) {
            int busy = 0;
            for (int i = 0; i < nhc; i++) busy += hc[i].busy;
            if (!busy) stop_at = now_ns();
        }
        if (stop_at) {
            /* all answered: wait for the frames still on their way */
            long long covered = nlat;
            if (covered >= (long long)nsent * open_count() && open_count() == subs) break;
            if (now_ns() - stop_at > (int64_t)(drain * 1e9)) break;
        }
        if (now - start > (int64_t)((seconds + drain + 60) * 1e9)) {
            fprintf(stderr, "events_client: the load did not finish in time\n");
            break;
        }
    }
    close(tfd);
    int64_t end = stop_at ? stop_at : now_ns();
    double elapsed = (double)(end - start) / 1e9;

    long long lost = 0, tframes = 0, other = 0, closed = 0, bytes = 0, min_cov = -1, max_lost = 0;
    long long distinct = 0, min_distinct = -1;
    int closed_codes[8] = {0}, ncodes = 0;
    for (int i = 0; i < subs; i++) {
        long long l = 0;
        for (int d = 0; d < ndrives; d++)
            for (long long k = ws[i].next[d]; k < nsent; k += ndrives) l++;
        lost += l;
        if (l > max_lost) max_lost = l;
        long long cov = nsent - l;
        if (min_cov < 0 || cov < min_cov) min_cov = cov;
        tframes += ws[i].tframes;
        distinct += ws[i].distinct;
        if (min_distinct < 0 || ws[i].distinct < min_distinct) min_distinct = ws[i].distinct;
        other += ws[i].other;
        bytes += ws[i].bytes;
        if (ws[i].state == WS_CLOSED) {
            closed++;
            if (ncodes < 8) closed_codes[ncodes++] = ws[i].close_code;
        }
    }
    qsort(lat, (size_t)nlat, sizeof *lat, cmp64);
    qsort(put_lat, (size_t)nput_lat, sizeof *put_lat, cmp64);
    printf("{\"mode\": \"lat\", \"subscribers\": %d, \"connections\": %d, \"rate\": %.0f, \"planned\": %lld, \"changes\": %lld, "
           "\"send_seconds\": %.3f, \"late_sends\": %lld, \"max_send_lag_ms\": %.3f, "
           "\"answers_2xx\": %lld, \"answers_other\": %lld, "
           "\"frames_with_t\": %lld, \"distinct_shown\": %lld, \"min_distinct_per_subscriber\": %lld, \"frames_other\": %lld, \"frame_bytes\": %lld, "
           "\"expected\": %lld, \"covered\": %lld, \"lost\": %lld, \"min_covered_per_subscriber\": %lld, "
           "\"max_lost_per_subscriber\": %lld, \"merged\": %lld, \"repeated\": %lld, \"reordered\": %lld, "
           "\"unmatched\": %lld, \"closed_by_server\": %lld, \"close_codes\": [",
           subs, conns, rate, total, nsent, elapsed, late, (double)max_lag / 1e6, http_done, http_bad, tframes, distinct, min_distinct, other, bytes,
           nsent * subs, nlat, lost, min_cov, max_lost, merged, repeated, reordered, unmatched, closed);
    for (int i = 0; i < ncodes; i++) printf("%s%d", i ? ", " : "", closed_codes[i]);
    printf("], \"p50_ms\": %.3f, \"p95_ms\": %.3f, \"p99_ms\": %.3f, \"max_ms\": %.3f, "
           "\"put_p50_ms\": %.3f, \"put_p99_ms\": %.3f}\n",
           pct_ms(lat, nlat, 0.50), pct_ms(lat, nlat, 0.95), pct_ms(lat, nlat, 0.99), nlat ? (double)lat[nlat - 1] / 1e6 : -1,
           pct_ms(put_lat, nput_lat, 0.50), pct_ms(put_lat, nput_lat, 0.99));
    return 0;
}

/* ------------------------------------------------------------------ tput */

static void poll_metrics(void) {
    char req[512];
    int n = snprintf(req, sizeof req, "GET /_drivesd/metrics HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: %s\r\n\r\n",
                     port, admin_auth);
    mc.busy = 1;
    write_all(mc.fd, req, (size_t)n);
}

static int run_tput(int stalled, int readers, int conns, double seconds, double drain, double max_extra) {
    nws = stalled + readers;
    ws = calloc((size_t)(nws > 0 ? nws : 1), sizeof *ws);
    /* /_drivesd/metrics every 100 ms (in every run, so that each run carries the same extra
       load): when drivesd_event_subscribers_closed_slow_total moves, the server has given up on
       the stalled subscriber. */
    mc.fd = connect_to(0);
    mc.buf = malloc(HTTP_BUF);
    mc.metrics = 1;
    set_nonblock(mc.fd);
    ep_add(mc.fd, 2000000);
    poll_metrics();
    struct epoll_event evs[MAXEV];
    for (int64_t d = now_ns() + 10LL * 1000000000LL; closed_slow_base < 0 && now_ns() < d;) {
        int k = epoll_wait(epfd, evs, MAXEV, 100);
        for (int i = 0; i < k; i++) dispatch(&evs[i]);
    }
    if (closed_slow_base < 0) {
        errno = 0;
        die("no answer from /_drivesd/metrics");
    }
    for (int i = 0; i < stalled; i++) {
        ws_open(&ws[i], 4096);
        ws_handshake_blocking(&ws[i]);
    }
    if (readers) open_subscribers(stalled, readers);
    cap_put_lat = (long long)((seconds + max_extra) * 200000) + 16;
    put_lat = malloc((size_t)cap_put_lat * sizeof *put_lat);
    open_http(conns);

    long long idx = 0;
    int64_t start = now_ns(), stop = start + (int64_t)(seconds * 1e9), last_poll = start;
    int64_t overflow_at = 0;
    long long overflow_changes = -1;
    for (int i = 0; i < nhc; i++) send_put(&hc[i], idx++, now_ns(), 1);
    long long at_stop = -1;
    int issuing = 1;
    for (;;) {
        int64_t now = now_ns();
        if (!mc.busy && now - last_poll >= 100000000LL) {
            last_poll = now;
            poll_metrics();
        }
        if (!overflow_at && closed_slow > closed_slow_base) {
            overflow_at = now;
            overflow_changes = http_done;
        }
        if (now >= stop && at_stop < 0) at_stop = http_done;
        /* After the window, a stalled run goes on (not counted) until the server gives up on
           the subscriber, so that how it ends is seen whatever the throughput. */
        if (now >= stop && (stalled == 0 || overflow_at || now - stop >= (int64_t)(max_extra * 1e9))) issuing = 0;
        if (!issuing) {
            int busy = 0;
            for (int i = 0; i < nhc; i++) busy += hc[i].busy;
            if (!busy || now - stop > (int64_t)((max_extra + 30) * 1e9)) break;
        }
        int k = epoll_wait(epfd, evs, MAXEV, 10);
        for (int i = 0; i < k; i++) {
            uint64_t tag = evs[i].data.u64;
            if (tag >= 1000000 && tag < 2000000) {
                http_conn *c = &hc[tag - 1000000];
                if (http_read(c) && issuing) send_put(c, idx++, now_ns(), 1);
            } else {
                dispatch(&evs[i]);
            }
        }
    }
    double elapsed = (double)(stop - start) / 1e9;
    qsort(put_lat, (size_t)nput_lat, sizeof *put_lat, cmp64);

    /* How the server ended each stalled socket: read what it held, then its close frame. */
    long long stalled_frames = 0, stalled_bytes = 0;
    int stalled_closed = 0, stalled_eof = 0, code = -1;
    double drain_s = 0;
    if (stalled) {
        int64_t d0 = now_ns();
        for (int i = 0; i < stalled; i++) {
            ws_conn *w = &ws[i];
            set_nonblock(w->fd);
            ep_add(w->fd, (uint64_t)i);
        }
        while (now_ns() - d0 < (int64_t)(drain * 1e9)) {
            int open = 0;
            for (int i = 0; i < stalled; i++) open += ws[i].fd >= 0;
            if (!open) break;
            int k = epoll_wait(epfd, evs, MAXEV, 50);
            for (int i = 0; i < k; i++) dispatch(&evs[i]);
        }
        drain_s = (double)(now_ns() - d0) / 1e9;
        for (int i = 0; i < stalled; i++) {
            stalled_frames += ws[i].frames;
            stalled_bytes += ws[i].bytes;
            if (ws[i].close_code >= 0) {
                stalled_closed++;
                code = ws[i].close_code;
            }
            stalled_eof += ws[i].eof;
        }
    }
    long long reader_frames = 0;
    int readers_closed = 0;
    for (int i = stalled; i < nws; i++) {
        reader_frames += ws[i].frames;
        readers_closed += ws[i].state == WS_CLOSED;
    }
    printf("{\"mode\": \"tput\", \"stalled\": %d, \"readers\": %d, \"connections\": %d, \"seconds\": %.3f, "
           "\"answers_2xx\": %lld, \"answers_total\": %lld, \"answers_other\": %lld, \"rate\": %.1f, \"p50_ms\": %.3f, "
           "\"p99_ms\": %.3f, \"closed_slow_delta\": %lld, \"overflow_seconds\": %.3f, \"overflow_changes\": %lld, "
           "\"stalled_frames_drained\": %lld, \"stalled_bytes_drained\": %lld, \"stalled_close_frames\": %d, "
           "\"stalled_close_code\": %d, \"stalled_eof\": %d, \"drain_seconds\": %.3f, "
           "\"reader_frames\": %lld, \"readers_closed\": %d}\n",
           stalled, readers, conns, elapsed, at_stop, http_done, http_bad, (double)at_stop / elapsed,
           pct_ms(put_lat, nput_lat, 0.5), pct_ms(put_lat, nput_lat, 0.99), closed_slow - closed_slow_base,
           overflow_at ? (double)(overflow_at - start) / 1e9 : -1.0, overflow_changes, stalled_frames, stalled_bytes,
           stalled_closed, code, stalled_eof, drain_s, reader_frames, readers_closed);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: see the head of events_client.c\n");
        return 2;
    }
    if (getenv("EVENTS_DUMP") && *getenv("EVENTS_DUMP")) dump = fopen(getenv("EVENTS_DUMP"), "w");
    epfd = epoll_create1(0);
    if (epfd < 0) die("epoll_create1");
    if (strcmp(argv[1], "lat") == 0 && argc == 12) {
        port = atoi(argv[2]);
        auth = argv[3];
        cookie = argv[4];
        read_uuids(argv[5]);
        drive_size = atoll(argv[6]);
        return run_lat(atoi(argv[7]), atoi(argv[8]), atof(argv[9]), atof(argv[10]), atof(argv[11]));
    }
    if (strcmp(argv[1], "tput") == 0 && argc == 14) {
        port = atoi(argv[2]);
        auth = argv[3];
        cookie = argv[4];
        read_uuids(argv[5]);
        drive_size = atoll(argv[6]);
        admin_auth = argv[12];
        return run_tput(atoi(argv[7]), atoi(argv[8]), atoi(argv[9]), atof(argv[10]), atof(argv[11]), atof(argv[13]));
    }
    fprintf(stderr, "usage: see the head of events_client.c\n");
    return 2;
}
