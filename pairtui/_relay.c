/* pairtui._relay: a guest terminal's CHANNEL_DATA, both ways, in a native thread.
 *
 * Why: a key's echo through `pairtui serve` spent most of its time in the event loop's
 * wake and the Python around AES-GCM (benchmarks/README, Fourth and Sixth looks). Here a
 * thread per guest terminal, holding no Python state and not the GIL, waits on the
 * guest's socket and its tmux client's PTY, as sshd's session child does:
 *
 *   socket -> PTY: a lone, well-framed CHANNEL_DATA for this channel (input allowed) or
 *                  an IGNORE is decrypted, checked and written to the PTY;
 *   PTY -> socket: what tmux prints becomes one CHANNEL_DATA packet.
 *
 * It keeps the connection's state (IVs, sequence numbers, windows, rekey byte count)
 * exactly as asyncssh would, and stops at the first thing it does not handle: any other
 * packet, a packet it would have to refuse, a window or rekey due, a short write, an
 * end of file or a stop request. It then hands everything it did not consume back (through
 * `stop()`), and Python puts the state back into asyncssh, which deals with the rest as
 * before. It never refuses or answers anything itself: what it does not consume, it
 * leaves byte for byte to asyncssh. Guests write these packets: every length is checked
 * before it is used (tests/test_native_relay.py fuzzes it against a Python model).
 *
 * Python starts it only when nothing is pending anywhere (pairtui/native_relay.py) and
 * stops it, synchronously, before it sends any packet or cuts a guest's keys off.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define MSG_IGNORE 2
#define MSG_CHANNEL_WINDOW_ADJUST 93
#define MSG_CHANNEL_DATA 94
#define TAG 16
#define OUT_MAX 32768 /* bytes of tmux output per packet, at most (and the window's) */
#define READ_SLACK 32768
#define STACK (256 * 1024)

/* Why the thread stopped (`reason` in stop()'s answer; native_relay.Reason). */
enum { R_NONE, R_STOP, R_PACKET, R_SOCKET_END, R_PTY_END, R_WINDOW, R_REKEY, R_SOCKET_FULL,
       R_PTY_FULL, R_ERROR };

typedef struct {
    PyObject_HEAD
    int sock, pty, stopfd, notefd;
    pthread_t th;
    int running; /* started and its state not yet collected by stop() */
    int joined;  /* the thread has ended (its state waits for stop()) */
    EVP_CIPHER_CTX *dec, *enc;
    uint8_t riv[12], siv[12];
    uint32_t rseq, sseq, our_chan, peer_chan;
    uint32_t recv_window, init_recv_window, recv_pktsize;
    uint32_t send_window, send_pktsize, max_recv_pktlen;
    uint64_t rekey_sent, rekey_limit;
    double rekey_time; /* monotonic */
    double last_input; /* wall clock of the last key it delivered (read while it runs) */
    int enchdrlen, input;
    uint8_t *in, *plain, *out;
    size_t incap, inlen;
    uint8_t *unsent, *ptyin;
    size_t unsentlen, ptyinlen;
    uint8_t pool[4096];
    size_t poolpos;
    int reason, err;
    uint64_t packets_in, packets_out;
} Relay;

static uint32_t get32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

/* RFC 5647 7.1: the invocation counter, the IV's last 8 bytes, counts packets. */
static void next_iv(uint8_t *iv) {
    for (int i = 11; i >= 4; i--)
        if (++iv[i]) break;
}

static double clock_s(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int rekey_due(const Relay *r) {
    return r->rekey_sent >= r->rekey_limit
        || (r->rekey_time > 0 && clock_s(CLOCK_MONOTONIC) >= r->rekey_time);
}

/* Random padding from a pool, as asyncssh's os.urandom: one getrandom per ~200 packets. */
static int padding(Relay *r, uint8_t *to, size_t n) {
    if (r->poolpos + n > sizeof r->pool) {
        for (size_t i = 0; i < sizeof r->pool; i += 256)
            if (getrandom(r->pool + i, 256, 0) != 256) return -1;
        r->poolpos = 0;
    }
    memcpy(to, r->pool + r->poolpos, n);
    r->poolpos += n;
    return 0;
}

/* `payload` (already at r->out + 5) becomes one sealed packet at r->out: its length, or -1. */
static long seal(Relay *r, size_t plen) {
    uint8_t *pkt = r->out + 4;
    size_t padlen = (16 - ((size_t)r->enchdrlen + plen) % 16) % 16;
    if (padlen < 4) padlen += 16;
    size_t pktlen = 1 + plen + padlen;
    int outl;
    put32(r->out, (uint32_t)pktlen);
    pkt[0] = (uint8_t)padlen;
    if (padding(r, pkt + 1 + plen, padlen)) return -1;
    if (EVP_EncryptInit_ex(r->enc, NULL, NULL, NULL, r->siv) != 1
        || EVP_EncryptUpdate(r->enc, NULL, &outl, r->out, 4) != 1
        || EVP_EncryptUpdate(r->enc, pkt, &outl, pkt, (int)pktlen) != 1
        || EVP_EncryptFinal_ex(r->enc, pkt + outl, &outl) != 1
        || EVP_CIPHER_CTX_ctrl(r->enc, EVP_CTRL_GCM_GET_TAG, TAG, pkt + pktlen) != 1)
        return -1;
    next_iv(r->siv);
    r->sseq++;
    r->rekey_sent += pktlen;
    return (long)(4 + pktlen + TAG);
}

/* Write to a non-blocking fd; what it does not take is kept in *rest. 0 all, 1 short. */
static int put_all(int fd, const uint8_t *buf, size_t n, uint8_t **rest, size_t *restlen) {
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(fd, buf + off, n - off);
        if (w > 0) off += (size_t)w;
        else if (!(w < 0 && errno == EINTR)) break;
    }
    if (off == n) return 0;
    *rest = malloc(n - off);
    if (*rest == NULL) return -1;
    memcpy(*rest, buf + off, n - off);
    *restlen = n - off;
    return 1;
}

/* The whole packet at `pkt` (length field `len`): 1 consumed, 0 left as it came (not
 * ours, or one asyncssh must refuse), or the stop reason once it was consumed. */
static int take(Relay *r, const uint8_t *pkt, uint32_t len) {
    const uint8_t *tag = pkt + 4 + len;
    uint8_t *plain = r->plain;
    int outl;
    if (EVP_DecryptInit_ex(r->dec, NULL, NULL, NULL, r->riv) != 1
        || EVP_DecryptUpdate(r->dec, NULL, &outl, pkt, 4) != 1
        || EVP_DecryptUpdate(r->dec, plain, &outl, pkt + 4, (int)len) != 1
        || EVP_CIPHER_CTX_ctrl(r->dec, EVP_CTRL_GCM_SET_TAG, TAG, (void *)tag) != 1
        || EVP_DecryptFinal_ex(r->dec, plain + outl, &outl) != 1)
        return 0; /* a bad tag: asyncssh says so and ends the connection */
    size_t pad = plain[0];
    if (pad < 4 || pad + 2 > len) return 0; /* RFC 4253: 4+ bytes of padding, a type */
    if (plain[1] == MSG_IGNORE) {
        if (len < 6 + pad || get32(plain + 2) != len - 6 - pad) return 0; /* one string */
        next_iv(r->riv);
        r->rseq++;
        return 1;
    }
    if (plain[1] != MSG_CHANNEL_DATA || !r->input || len < 10 + pad
        || get32(plain + 2) != r->our_chan)
        return 0;
    uint32_t n = get32(plain + 6);
    if (n != len - 10 - pad || n == 0 || n > r->recv_window || n > r->recv_pktsize) return 0;
    next_iv(r->riv);
    r->rseq++;
    r->recv_window -= n;
    __atomic_fetch_add(&r->packets_in, 1, __ATOMIC_RELAXED);
    double now = clock_s(CLOCK_REALTIME);
    __atomic_store(&r->last_input, &now, __ATOMIC_RELAXED);
    int stop = R_NONE;
    int w = put_all(r->pty, plain + 10, n, &r->ptyin, &r->ptyinlen);
    if (w) stop = w < 0 ? R_ERROR : R_PTY_FULL;
    if (r->recv_window < r->init_recv_window / 2) { /* as ChannelFastPath.take */
        uint8_t *p = r->out + 5;
        p[0] = MSG_CHANNEL_WINDOW_ADJUST;
        put32(p + 1, r->peer_chan);
        put32(p + 5, r->init_recv_window - r->recv_window);
        long m = seal(r, 9);
        if (m < 0) return R_ERROR;
        r->recv_window = r->init_recv_window;
        w = put_all(r->sock, r->out, (size_t)m, &r->unsent, &r->unsentlen);
        if (w) return w < 0 ? R_ERROR : R_SOCKET_FULL;
    }
    return stop == R_NONE ? 1 : stop;
}

/* Whole packets from the socket's bytes: R_NONE to go on reading, else why to stop. */
static int from_socket(Relay *r) {
    ssize_t n = read(r->sock, r->in + r->inlen, r->incap - r->inlen);
    if (n == 0) return R_SOCKET_END;
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) return R_NONE;
        r->err = errno;
        return R_SOCKET_END;
    }
    r->inlen += (size_t)n;
    size_t at = 0; /* consumed so far; the rest moves to the front once, at the end */
    int why = R_NONE;
    while (r->inlen - at >= 4) {
        uint32_t len = get32(r->in + at);
        if ((len & 15) || len == 0 || len > r->max_recv_pktlen) { why = R_PACKET; break; }
        size_t size = 4 + (size_t)len + TAG;
        if (r->inlen - at < size) break; /* (incap holds the largest packet) */
        if (rekey_due(r)) { why = R_REKEY; break; }
        int t = take(r, r->in + at, len);
        if (t == 0) { why = R_PACKET; break; }
        at += size;
        if (t != 1) { why = t; break; }
    }
    if (at) {
        memmove(r->in, r->in + at, r->inlen - at);
        r->inlen -= at;
    }
    return why;
}

/* One read of tmux's output, as one packet: R_NONE to go on, else why to stop. */
static int from_pty(Relay *r) {
    if (r->send_window == 0) return R_WINDOW;
    if (rekey_due(r)) return R_REKEY;
    size_t want = OUT_MAX;
    if (want > r->send_window) want = r->send_window;
    if (want > r->send_pktsize) want = r->send_pktsize;
    uint8_t *p = r->out + 5;
    ssize_t n = read(r->pty, p + 9, want);
    if (n == 0) return R_PTY_END;
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) return R_NONE;
        r->err = errno;
        return R_PTY_END; /* EIO once tmux exited: Python reads the end itself */
    }
    p[0] = MSG_CHANNEL_DATA;
    put32(p + 1, r->peer_chan);
    put32(p + 5, (uint32_t)n);
    long m = seal(r, 9 + (size_t)n);
    if (m < 0) return R_ERROR;
    r->send_window -= (uint32_t)n;
    __atomic_fetch_add(&r->packets_out, 1, __ATOMIC_RELAXED);
    int w = put_all(r->sock, r->out, (size_t)m, &r->unsent, &r->unsentlen);
    return w == 0 ? R_NONE : w < 0 ? R_ERROR : R_SOCKET_FULL;
}

static void *run(void *arg) {
    Relay *r = arg;
    /* Named, so that ps -L and /proc/PID/task/TID/comm tell a guest terminal's thread. */
    pthread_setname_np(pthread_self(), "pairtui-relay");
    struct pollfd fds[3] = {{r->stopfd, POLLIN, 0}, {r->sock, POLLIN, 0}, {r->pty, POLLIN, 0}};
    int why = R_NONE;
    while (why == R_NONE) {
        if (poll(fds, 3, -1) < 0) {
            if (errno == EINTR) continue;
            r->err = errno;
            why = R_ERROR;
            break;
        }
        if (fds[0].revents) why = R_STOP;
        else if (fds[1].revents && (why = from_socket(r)) != R_NONE) break;
        else if (fds[2].revents) why = from_pty(r);
    }
    r->reason = why;
    uint64_t one = 1;
    ssize_t w = write(r->notefd, &one, sizeof one);
    (void)w;
    return NULL;
}

static void drain(int fd) {
    uint64_t v;
    ssize_t n = read(fd, &v, sizeof v);
    (void)n;
}

static PyObject *Relay_new(PyTypeObject *type, PyObject *Py_UNUSED(args), PyObject *Py_UNUSED(kw)) {
    Relay *r = (Relay *)type->tp_alloc(type, 0);
    if (r != NULL) r->sock = r->pty = r->stopfd = r->notefd = -1;
    return (PyObject *)r;
}

static int Relay_init(Relay *r, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"sock", "pty", "recv_key", "send_key", "max_recv_pktlen", NULL};
    int sock, pty;
    Py_buffer rk, sk;
    unsigned int maxlen;
    if (r->in != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "native relay: already set up");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kw, "iiy*y*I", kwlist, &sock, &pty, &rk, &sk,
                                     &maxlen))
        return -1;
    const EVP_CIPHER *rc = rk.len == 16 ? EVP_aes_128_gcm() : rk.len == 32 ? EVP_aes_256_gcm() : NULL;
    const EVP_CIPHER *sc = sk.len == 16 ? EVP_aes_128_gcm() : sk.len == 32 ? EVP_aes_256_gcm() : NULL;
    r->max_recv_pktlen = maxlen;
    r->incap = 4 + (size_t)maxlen + TAG + READ_SLACK;
    r->in = malloc(r->incap);
    r->plain = malloc((size_t)maxlen + TAG);
    r->out = malloc(4 + 1 + 9 + OUT_MAX + 32 + TAG);
    r->dec = EVP_CIPHER_CTX_new();
    r->enc = EVP_CIPHER_CTX_new();
    r->poolpos = sizeof r->pool;
    int ok = rc && sc && maxlen >= 16 && maxlen < (1u << 24) && r->in && r->plain && r->out
        && r->dec && r->enc
        && EVP_DecryptInit_ex(r->dec, rc, NULL, rk.buf, NULL) == 1
        && EVP_EncryptInit_ex(r->enc, sc, NULL, sk.buf, NULL) == 1;
    PyBuffer_Release(&rk);
    PyBuffer_Release(&sk);
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, "native relay: unusable keys or sizes");
        return -1;
    }
    /* Its own descriptors, close-on-exec: what asyncio or the PTY bridge closes stays
     * valid (never another file) until this relay is freed. */
    r->sock = fcntl(sock, F_DUPFD_CLOEXEC, 3);
    r->pty = fcntl(pty, F_DUPFD_CLOEXEC, 3);
    r->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    r->notefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (r->sock < 0 || r->pty < 0 || r->stopfd < 0 || r->notefd < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    return 0;
}

static void join(Relay *r) {
    if (r->joined) return;
    uint64_t one = 1;
    ssize_t w = write(r->stopfd, &one, sizeof one);
    (void)w;
    Py_BEGIN_ALLOW_THREADS
    pthread_join(r->th, NULL);
    Py_END_ALLOW_THREADS
    drain(r->stopfd);
    drain(r->notefd);
    r->joined = 1;
}

static void Relay_dealloc(Relay *r) {
    if (r->running) join(r);  /* (a state never collected: the connection is gone) */
    int fds[4] = {r->sock, r->pty, r->stopfd, r->notefd};
    for (int i = 0; i < 4; i++)
        if (fds[i] >= 0) close(fds[i]);
    EVP_CIPHER_CTX_free(r->dec);
    EVP_CIPHER_CTX_free(r->enc);
    free(r->in); free(r->plain); free(r->out); free(r->unsent); free(r->ptyin);
    Py_TYPE(r)->tp_free((PyObject *)r);
}

static PyObject *Relay_start(Relay *r, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"recv_iv", "send_iv", "recv_seq", "send_seq", "our_channel",
        "peer_channel", "recv_window", "init_recv_window", "recv_pktsize", "send_window",
        "send_pktsize", "rekey_sent", "rekey_limit", "rekey_time", "enchdrlen", "input", NULL};
    Py_buffer riv, siv;
    unsigned long long sent, limit;
    if (r->running || r->joined) {
        PyErr_SetString(PyExc_RuntimeError, "native relay: already running");
        return NULL;
    }
    if (r->in == NULL || r->notefd < 0) {
        PyErr_SetString(PyExc_RuntimeError, "native relay: not set up");
        return NULL;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kw, "y*y*IIIIIIIIIKKdip", kwlist, &riv, &siv,
            &r->rseq, &r->sseq, &r->our_chan, &r->peer_chan, &r->recv_window,
            &r->init_recv_window, &r->recv_pktsize, &r->send_window, &r->send_pktsize, &sent,
            &limit, &r->rekey_time, &r->enchdrlen, &r->input))
        return NULL;
    int ok = riv.len == 12 && siv.len == 12 && r->enchdrlen >= 0 && r->enchdrlen < 16;
    if (ok) {
        memcpy(r->riv, riv.buf, 12);
        memcpy(r->siv, siv.buf, 12);
    }
    PyBuffer_Release(&riv);
    PyBuffer_Release(&siv);
    if (!ok) {
        PyErr_SetString(PyExc_ValueError, "native relay: bad IV or header length");
        return NULL;
    }
    r->rekey_sent = sent;
    r->rekey_limit = limit;
    r->inlen = r->unsentlen = r->ptyinlen = 0;
    free(r->unsent); free(r->ptyin);
    r->unsent = r->ptyin = NULL;
    r->reason = R_NONE;
    r->err = 0;
    r->last_input = 0;
    r->packets_in = r->packets_out = 0;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, STACK);
    int e = pthread_create(&r->th, &attr, run, r);
    pthread_attr_destroy(&attr);
    if (e != 0) {
        errno = e;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    r->running = 1;
    Py_RETURN_NONE;
}

static PyObject *Relay_stop(Relay *r, PyObject *Py_UNUSED(ignored)) {
    if (!r->running) Py_RETURN_NONE;
    join(r);
    /* Running until the state is in Python's hands: if building it fails, the next
     * stop() answers it again (never None while the thread holds IVs Python lacks). */
    PyObject *state = Py_BuildValue(
        "{s:i,s:i,s:y#,s:y#,s:I,s:I,s:I,s:I,s:K,s:y#,s:y#,s:y#,s:d,s:K,s:K}",
        "reason", r->reason, "err", r->err, "recv_iv", r->riv, (Py_ssize_t)12,
        "send_iv", r->siv, (Py_ssize_t)12, "recv_seq", r->rseq, "send_seq", r->sseq,
        "recv_window", r->recv_window, "send_window", r->send_window,
        "rekey_sent", (unsigned long long)r->rekey_sent,
        "leftover", (const char *)r->in, (Py_ssize_t)r->inlen,
        "unsent", r->unsent ? (const char *)r->unsent : "", (Py_ssize_t)r->unsentlen,
        "pty_input", r->ptyin ? (const char *)r->ptyin : "", (Py_ssize_t)r->ptyinlen,
        "last_input", r->last_input,
        "packets_in", (unsigned long long)r->packets_in,
        "packets_out", (unsigned long long)r->packets_out);
    if (state != NULL) r->running = r->joined = 0;
    return state;
}

static PyObject *Relay_notefd(Relay *r, void *Py_UNUSED(c)) { return PyLong_FromLong(r->notefd); }
static PyObject *Relay_running(Relay *r, void *Py_UNUSED(c)) { return PyBool_FromLong(r->running); }

static PyObject *Relay_packets(Relay *r, void *out) {
    return PyLong_FromUnsignedLongLong(
        __atomic_load_n(out ? &r->packets_out : &r->packets_in, __ATOMIC_RELAXED));
}

static PyObject *Relay_last_input(Relay *r, void *Py_UNUSED(c)) {
    double t;
    __atomic_load(&r->last_input, &t, __ATOMIC_RELAXED);
    return PyFloat_FromDouble(t);
}

static PyMethodDef Relay_methods[] = {
    {"start", (PyCFunction)(void (*)(void))Relay_start, METH_VARARGS | METH_KEYWORDS,
     "Relay from this state until something else comes (see the module's comment)."},
    {"stop", (PyCFunction)Relay_stop, METH_NOARGS,
     "Stop (at once, or collect a thread that stopped by itself): its state, or None."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Relay_getset[] = {
    {"notefd", (getter)Relay_notefd, NULL, "readable once the thread stopped by itself", NULL},
    {"running", (getter)Relay_running, NULL, "started and not yet stopped", NULL},
    {"packets_in", (getter)Relay_packets, NULL, "CHANNEL_DATA in since start", NULL},
    {"packets_out", (getter)Relay_packets, NULL, "CHANNEL_DATA out since start", (void *)1},
    {"last_input", (getter)Relay_last_input, NULL,
     "wall clock of the last key delivered since start (0: none); readable while it runs", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject RelayType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "pairtui._relay.Relay",
    .tp_basicsize = sizeof(Relay),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "One guest terminal's CHANNEL_DATA in a native thread.",
    .tp_new = Relay_new,
    .tp_init = (initproc)Relay_init,
    .tp_dealloc = (destructor)Relay_dealloc,
    .tp_methods = Relay_methods,
    .tp_getset = Relay_getset,
};

static struct PyModuleDef relay_module = {
    PyModuleDef_HEAD_INIT, "_relay", "A guest terminal's packets in a native thread.", -1,
    NULL, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__relay(void) {
    if (PyType_Ready(&RelayType) < 0) return NULL;
    PyObject *m = PyModule_Create(&relay_module);
    if (m == NULL) return NULL;
    Py_INCREF(&RelayType);
    if (PyModule_AddObject(m, "Relay", (PyObject *)&RelayType) < 0) {
        Py_DECREF(&RelayType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
