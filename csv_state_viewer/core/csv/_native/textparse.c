/*
 * Optional accelerator for decimal tensor text: comma-separated numbers to float32/float64.
 *
 * Loaded with ctypes (no Python API, so the GIL is released while it runs and chunks of
 * one tensor are parsed on several cores). It accepts only plain JSON-style numbers
 * ("-1.25e-07", "0.5", "3"); anything else (nan, inf, spaces, "+1", ".5", empty values)
 * returns CSV_UNSUPPORTED and Python parses that chunk with its general path, which also
 * words the error messages. So this code never decides that input is bad.
 *
 * Exactness: a decimal with at most 19 significant digits w and exponent e, with
 * w <= 2^53 and |e| <= 22, is w * 10^e or w / 10^-e in one correctly rounded IEEE
 * operation (Clinger's fast path: both operands are exact doubles). Other numbers go to
 * strtod_l in the C locale (correctly rounded by glibc). For float32 the double result is
 * narrowed, which is exact unless the double lies exactly halfway between two float32
 * values or outside float32's normal range: those tokens are parsed again with strtof_l.
 * Results that would overflow to infinity or underflow to zero go back to Python.
 * float16, bfloat16 and float8 tensors are read with csv_parse_f64: Python narrows the
 * doubles (narrowing.py), reading again only the tokens that land on a rounding boundary.
 */
#define _GNU_SOURCE
#include <float.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CSV_TEXTPARSE_ABI 6
#define CSV_UNSUPPORTED (-1)
#define CSV_TOO_MANY (-2)
#define CSV_READ_FAILED (-3) /* the file ended early or could not be read */
#define CSV_MAX_THREADS 16
#define TOKEN_MAX 128
#define PADDING 16 /* readable bytes the caller provides after the data */

static const double POW10[23] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

static locale_t c_locale;
static pthread_once_t locale_once = PTHREAD_ONCE_INIT;

static void init_locale(void) { c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0); }

int csv_textparse_abi(void) { return CSV_TEXTPARSE_ABI; }

int csv_textparse_padding(void) { return PADDING; }

static inline int is_digit(char c) { return (unsigned char)(c - '0') < 10u; }

typedef struct {
    const char *start;
    const char *stop; /* one past the token */
    double value;
    int nonzero; /* the decimal has a non-zero digit */
} token_t;

/* Copies the token into buf, NUL-terminated; 0 when it is too long. */
static int token_copy(const token_t *tok, char *buf) {
    size_t n = (size_t)(tok->stop - tok->start);
    if (n >= TOKEN_MAX) return 0;
    memcpy(buf, tok->start, n);
    buf[n] = '\0';
    return 1;
}

static inline uint64_t load8(const char *p) {
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v; /* little-endian byte order assumed (checked by the loader's self-test) */
}

/* The value of eight ASCII digits in one 64-bit word (SWAR, after Lemire's fast_float). */
static inline uint64_t eight_value(uint64_t v) {
    const uint64_t mask = UINT64_C(0x000000FF000000FF);
    v -= UINT64_C(0x3030303030303030);
    v = (v * 10) + (v >> 8);
    v = (((v & mask) * UINT64_C(0x000F424000000064)) +
         (((v >> 16) & mask) * UINT64_C(0x0000271000000001))) >> 32;
    return v;
}

#define KEEP_ONE UINT64_C(1000000000000000000) /* w below this can take one more digit */
#define KEEP_EIGHT UINT64_C(100000000000)      /* ... and below this, eight more */

static const uint64_t POW10_INT[9] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000,
                                       100000000};

/* Digits at p into w (as many as fit exactly); *dropped counts digits that did not fit,
 * *truncated records whether any of those was non-zero. Returns the end of the run.
 * Reads up to 8 bytes past the run: the caller guarantees PADDING readable bytes. */
static inline int digits_in(uint64_t v) {
    uint64_t other = ((v + UINT64_C(0x4646464646464646)) | (v - UINT64_C(0x3030303030303030))) &
                     UINT64_C(0x8080808080808080);
    return other ? __builtin_ctzll(other) >> 3 : 8;
}

static inline uint64_t top_value(uint64_t v, int n) {
    /* the value of the first n (0..8) ASCII digits of v */
    uint64_t zeros = UINT64_C(0x3030303030303030);
    uint64_t moved = n == 0 ? zeros : n == 8 ? v : (v << (64 - 8 * n)) | (zeros >> (8 * n));
    return eight_value(moved);
}

static inline const char *read_digits(const char *p, uint64_t *w, int64_t *kept,
                                      int64_t *dropped, int *truncated) {
    uint64_t x = *w;
    if (x == 0) { /* a fresh run of up to 16 digits: two loads, no loop */
        uint64_t a = load8(p), b = load8(p + 8);
        int na = digits_in(a);
        int nb = na == 8 ? digits_in(b) : 0;
        if (nb < 8) {
            x = top_value(a, na) * POW10_INT[nb] + top_value(b, nb);
            *kept += na + nb;
            *w = x;
            return p + na + nb;
        }
    }
    while (x < KEEP_EIGHT) {
        uint64_t v = load8(p);
        uint64_t other = ((v + UINT64_C(0x4646464646464646)) | (v - UINT64_C(0x3030303030303030))) &
                         UINT64_C(0x8080808080808080);
        int n = other ? __builtin_ctzll(other) >> 3 : 8; /* digits before the first other byte */
        if (n == 0) break;
        if (n < 8) /* move the n digits to the top, fill the bottom with '0' */
            v = (v << (64 - 8 * n)) | (UINT64_C(0x3030303030303030) >> (8 * n));
        x = x * POW10_INT[n] + eight_value(v);
        p += n;
        *kept += n;
        if (n < 8) {
            *w = x;
            return p;
        }
    }
    while (is_digit(*p)) {
        if (x < KEEP_ONE) {
            x = x * 10 + (uint64_t)(*p - '0');
            (*kept)++;
        } else {
            (*dropped)++;
            *truncated |= *p != '0';
        }
        p++;
    }
    *w = x;
    return p;
}

/* d (not negative) with its sign bit set when negative, without a branch. */
static inline double with_sign(double d, int negative) {
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    bits |= (uint64_t)negative << 63;
    memcpy(&d, &bits, sizeof d);
    return d;
}

/* Reads one number at p; 1 on success (tok filled), 0 when it is not a plain number. */
static int scan_number(const char *p, const char *end, token_t *tok) {
    tok->start = p;
    /* no branch on the sign: it is random in weights, and a mispredicted branch per value
     * cost more than the rest of the parse (the caller pads, so *p is readable at end) */
    int negative = *p == '-';
    p += negative;
    if (p >= end || !is_digit(*p)) return 0;
    uint64_t w = 0;
    int truncated = 0;
    int64_t exp10 = 0, kept = 0, dropped = 0;
    if (*p == '0') {
        p++;
        if (p < end && is_digit(*p)) return 0; /* leading zero: not JSON */
    } else {
        p = read_digits(p, &w, &kept, &dropped, &truncated);
        exp10 += dropped; /* integer digits that did not fit scale the kept ones */
    }
    if (p < end && *p == '.') {
        p++;
        if (p >= end || !is_digit(*p)) return 0;
        kept = 0;
        p = read_digits(p, &w, &kept, &dropped, &truncated);
        exp10 -= kept; /* every kept fraction digit divides by ten */
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        int exp_negative = 0;
        if (p < end && (*p == '+' || *p == '-')) {
            exp_negative = *p == '-';
            p++;
        }
        if (p >= end || !is_digit(*p)) return 0;
        int64_t e = 0;
        while (p < end && is_digit(*p)) {
            if (e < 100000) e = e * 10 + (*p - '0');
            p++;
        }
        exp10 += exp_negative ? -e : e;
    }
    if (p < end && *p != ',') return 0;
    tok->stop = p;
    tok->nonzero = w != 0 || truncated;
    if (w == 0 && !truncated) {
        tok->value = with_sign(0.0, negative);
        return 1;
    }
    if (!truncated && w <= (UINT64_C(1) << 53) && exp10 >= -22 && exp10 <= 22) {
        double d = (double)w;
        d = exp10 < 0 ? d / POW10[-exp10] : d * POW10[exp10];
        tok->value = with_sign(d, negative);
        return 1;
    }
    char buf[TOKEN_MAX];
    if (!token_copy(tok, buf)) return 0;
    tok->value = strtod_l(buf, NULL, c_locale);
    return 1;
}

/* The token as float32, or 0 when Python must decide (overflow, underflow to zero). */
static int narrow(const token_t *tok, float *out) {
    double d = tok->value;
    double a = fabs(d);
    if (!tok->nonzero) {
        *out = (float)d;
        return 1;
    }
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    if (a >= (double)FLT_MIN && a < (double)FLT_MAX && (bits & UINT64_C(0x1FFFFFFF)) != UINT64_C(0x10000000)) {
        *out = (float)d; /* not a float32 midpoint: rounding twice is rounding once */
        return 1;
    }
    char buf[TOKEN_MAX];
    if (!token_copy(tok, buf)) return 0;
    float f = strtof_l(buf, NULL, c_locale);
    if (f == 0.0f || isinf(f)) return 0;
    *out = f;
    return 1;
}

/* The token as float64, or 0 when Python must decide (overflow, underflow to zero). */
static inline int keep_double(const token_t *tok, double *out) {
    if (isinf(tok->value) || (tok->nonzero && tok->value == 0.0)) return 0;
    *out = tok->value;
    return 1;
}

/* Parses len bytes of comma-separated numbers into out (at most cap values, float32 when
 * single, else float64); buf must have PADDING readable non-digit bytes after len.
 * Returns the number of values, CSV_UNSUPPORTED or CSV_TOO_MANY. */
static inline int64_t parse_values(const char *buf, int64_t len, void *out, int64_t cap,
                                   int single) {
    pthread_once(&locale_once, init_locale);
    const char *p = buf, *end = buf + len;
    int64_t n = 0;
    if (len <= 0) return CSV_UNSUPPORTED;
    for (;;) {
        token_t tok;
        if (n >= cap) return CSV_TOO_MANY;
        if (!scan_number(p, end, &tok)) return CSV_UNSUPPORTED;
        int kept = single ? narrow(&tok, (float *)out + n) : keep_double(&tok, (double *)out + n);
        if (!kept) return CSV_UNSUPPORTED;
        n++;
        if (tok.stop == end) return n;
        p = tok.stop + 1;
    }
}

/* The two entry points: the constant flag lets the compiler specialise each loop. */
int64_t csv_parse_f64(const char *buf, int64_t len, double *out, int64_t cap) {
    return parse_values(buf, len, out, cap, 0);
}

int64_t csv_parse_f32(const char *buf, int64_t len, float *out, int64_t cap) {
    return parse_values(buf, len, out, cap, 1);
}

/* ------------------------------------------------------------------ a span of a file */

/* A span of a file [offset, offset + length) holding comma-separated numbers is split at
 * commas into one part per thread. Each thread reads its part with pread into its own
 * padded buffer and counts its values (commas + 1); once every count is known, each
 * thread parses its part straight into its place in out. Nothing here holds the GIL, so
 * reading, counting and parsing all run on every core, with no copy of the values. */

typedef struct {
    int fd;
    int64_t offset, length; /* the part in the file */
    char *buf;
    int64_t count;   /* values in the part */
    void *out;       /* where its first value goes */
    int64_t result;  /* values parsed, or a CSV_ code */
    int single;
} part_t;

static int64_t read_fully(int fd, char *buf, int64_t length, int64_t offset) {
    int64_t done = 0;
    while (done < length) {
        ssize_t got = pread(fd, buf + done, (size_t)(length - done), (off_t)(offset + done));
        if (got <= 0) return CSV_READ_FAILED;
        done += got;
    }
    return done;
}

static int64_t count_commas(const char *p, int64_t n) {
    /* byte counters over blocks of 255 bytes: a loop the compiler turns into byte-wide
     * vector compares and adds (a 64-bit counter per byte was five times slower) */
    int64_t count = 0;
    while (n > 0) {
        int block = n < 255 ? (int)n : 255;
        unsigned char c = 0;
        for (int j = 0; j < block; j++) c += (unsigned char)(p[j] == ',');
        count += c;
        p += block;
        n -= block;
    }
    return count;
}

static void *read_part(void *arg) {
    part_t *part = arg;
    part->result = read_fully(part->fd, part->buf, part->length, part->offset);
    memset(part->buf + part->length, 0, PADDING);
    if (part->result >= 0) part->count = count_commas(part->buf, part->length) + 1;
    return NULL;
}

static void *parse_part(void *arg) {
    part_t *part = arg;
    part->result = parse_values(part->buf, part->length, part->out, part->count, part->single);
    if (part->result >= 0 && part->result != part->count) part->result = CSV_UNSUPPORTED;
    return NULL;
}

/* Runs fn on every part, the first on the calling thread; 0 when a thread failed to start
 * (the parts it would have run are then run here). */
static void run_parts(void *(*fn)(void *), part_t *parts, int n) {
    pthread_t threads[CSV_MAX_THREADS];
    int started[CSV_MAX_THREADS] = {0};
    for (int i = 1; i < n; i++) started[i] = pthread_create(&threads[i], NULL, fn, &parts[i]) == 0;
    fn(&parts[0]);
    for (int i = 1; i < n; i++) {
        if (started[i])
            pthread_join(threads[i], NULL);
        else
            fn(&parts[i]);
    }
}

/* The parts' boundaries: after the first comma at or past each even share of the span.
 * Returns the number of parts (fewer when a share holds no comma within 256 bytes). */
static int split_span(int fd, int64_t offset, int64_t length, int threads, part_t *parts) {
    int n = 0;
    int64_t start = offset, end = offset + length;
    for (int i = 1; i < threads; i++) {
        int64_t probe = offset + length * i / threads;
        if (probe <= start) continue;
        char window[256];
        int64_t take = end - probe < 256 ? end - probe : 256;
        if (take <= 0 || read_fully(fd, window, take, probe) < 0) break;
        const char *comma = memchr(window, ',', (size_t)take);
        if (comma == NULL) continue;
        int64_t cut = probe + (comma - window);
        parts[n].offset = start;
        parts[n].length = cut - start;
        n++;
        start = cut + 1;
    }
    parts[n].offset = start;
    parts[n].length = end - start;
    return n + 1;
}

static int64_t parse_span(int fd, int64_t offset, int64_t length, void *out, int64_t cap,
                          int threads, char *scratch, int64_t scratch_size, int single) {
    pthread_once(&locale_once, init_locale);
    if (length <= 0 || cap <= 0) return CSV_UNSUPPORTED;
    if (threads < 1) threads = 1;
    if (threads > CSV_MAX_THREADS) threads = CSV_MAX_THREADS;
    part_t parts[CSV_MAX_THREADS];
    memset(parts, 0, sizeof parts);
    int n = split_span(fd, offset, length, threads, parts);
    if (scratch_size < length + (int64_t)n * PADDING) return CSV_UNSUPPORTED;
    for (int i = 0; i < n; i++) {
        parts[i].fd = fd; /* each part's bytes, then its padding, in the caller's scratch */
        parts[i].buf = scratch + (parts[i].offset - offset) + (int64_t)i * PADDING;
        parts[i].single = single;
        if (parts[i].length <= 0) return CSV_UNSUPPORTED; /* an empty value: Python words it */
    }
    run_parts(read_part, parts, n);
    int64_t total = 0, code = 0;
    for (int i = 0; i < n; i++) {
        if (parts[i].result < 0 && code == 0) code = parts[i].result;
        parts[i].out = (char *)out + total * (single ? sizeof(float) : sizeof(double));
        total += parts[i].count;
    }
    if (code == 0 && total > cap) code = CSV_TOO_MANY;
    if (code == 0) {
        run_parts(parse_part, parts, n);
        for (int i = 0; i < n && code == 0; i++)
            if (parts[i].result < 0) code = parts[i].result;
    }
    return code < 0 ? code : total;
}

/* Values of the file span [offset, offset + length) on up to `threads` threads, into out
 * (at most cap values), reading through scratch (length + threads * PADDING bytes, the
 * caller's, so that its pages are reused from call to call): the count, CSV_UNSUPPORTED,
 * CSV_TOO_MANY or CSV_READ_FAILED. */
int64_t csv_parse_span_f64(int fd, int64_t offset, int64_t length, double *out, int64_t cap,
                           int threads, char *scratch, int64_t scratch_size) {
    return parse_span(fd, offset, length, out, cap, threads, scratch, scratch_size, 0);
}

int64_t csv_parse_span_f32(int fd, int64_t offset, int64_t length, float *out, int64_t cap,
                           int threads, char *scratch, int64_t scratch_size) {
    return parse_span(fd, offset, length, out, cap, threads, scratch, scratch_size, 1);
}

/* ------------------------------------------------------------------ scanning rows */

#define SCAN_FIRST_BLOCK 4096
#define SCAN_BLOCK (1 << 20)

/* The first position in [pos, end) of the file holding one of the n_needles bytes, or -1
 * when there is none (CSV_READ_FAILED when the file cannot be read); *newlines counts the
 * '\n' bytes before it. The file is read with pread in blocks that grow from 4 KiB to
 * 1 MiB (a short name field costs one small read, a gigabyte data field streams through
 * one buffer), so a scan neither maps the file into the process nor holds the GIL. */
int64_t csv_scan_until(int fd, int64_t pos, int64_t end, const char *needles, int n_needles,
                       int64_t *newlines) {
    /* one buffer per thread, kept: a new one per call faulted in its pages every time */
    static _Thread_local char *buf = NULL;
    if (buf == NULL && (buf = malloc(SCAN_BLOCK)) == NULL) return CSV_READ_FAILED;
    int count_lines = memchr(needles, '\n', (size_t)n_needles) == NULL;
    int64_t block = SCAN_FIRST_BLOCK, lines = 0, result = -1;
    while (pos < end) {
        int64_t want = end - pos < block ? end - pos : block;
        ssize_t got = pread(fd, buf, (size_t)want, (off_t)pos);
        if (got < 0) {
            result = CSV_READ_FAILED;
            break;
        }
        if (got == 0) break; /* the file is shorter than it was: nothing more to find */
        const char *hit = NULL;
        for (int i = 0; i < n_needles; i++) {
            size_t span = hit != NULL ? (size_t)(hit - buf) : (size_t)got;
            const char *p = memchr(buf, needles[i], span);
            if (p != NULL) hit = p;
        }
        int64_t upto = hit != NULL ? hit - buf : got;
        if (count_lines) /* memchr: line breaks inside a field are rare, often absent */
            for (const char *p = buf; (p = memchr(p, '\n', (size_t)(buf + upto - p))) != NULL; p++)
                lines++;
        if (hit != NULL) {
            result = pos + upto;
            break;
        }
        pos += got;
        if (block < SCAN_BLOCK) block *= 4;
    }
    *newlines = lines;
    return result;
}

/* ------------------------------------------------------------------ histograms */

/* Adds to counts[bins] the values of x[n] that lie in [edges[0], edges[bins]] (NaN and
 * values outside are skipped), binned as numpy.histogram bins them with these edges: a
 * first guess from the value's position, then moved by one where the value lies below
 * its bin's left edge or at or above its right edge (the last bin includes its right
 * edge). The guess is within one bin, so the counts equal NumPy's to the element. */
#define HISTOGRAM_LOOP(TYPE)                                                          \
    const double first = edges[0], last = edges[bins];                               \
    const double scale = (double)bins / (last - first);                              \
    int64_t counted = 0;                                                              \
    for (int64_t k = 0; k < n; k++) {                                                 \
        double v = (double)((const TYPE *)x)[k];                                      \
        if (!(v >= first && v <= last)) continue;                                     \
        int64_t i = (int64_t)((v - first) * scale);                                   \
        if (i >= bins) i = bins - 1;                                                  \
        if (i < 0) i = 0;                                                             \
        if (v < edges[i] && i > 0) i--;                                               \
        if (i != bins - 1 && v >= edges[i + 1]) i++;                                  \
        counts[i]++;                                                                  \
        counted++;                                                                    \
    }                                                                                 \
    return counted;

int64_t csv_histogram_f32(const float *x, int64_t n, const double *edges, int64_t bins,
                          int64_t *counts) {
    HISTOGRAM_LOOP(float)
}

int64_t csv_histogram_f64(const double *x, int64_t n, const double *edges, int64_t bins,
                          int64_t *counts) {
    HISTOGRAM_LOOP(double)
}

/* The closing quote of a quoted field whose content starts at pos: the first '"' not
 * doubled (a doubled '""' is a quote inside the field, *escaped then set), or -1 when
 * the file ends first (CSV_READ_FAILED when it cannot be read); *newlines counts the
 * '\n' bytes inside. One call per field, however many quotes its JSON doubles. */
int64_t csv_scan_quoted(int fd, int64_t pos, int64_t end, int64_t *newlines, int *escaped) {
    int64_t lines = 0, more = 0;
    *escaped = 0;
    for (;;) {
        int64_t hit = csv_scan_until(fd, pos, end, "\"", 1, &more);
        lines += more;
        if (hit < 0) {
            *newlines = lines;
            return hit;
        }
        char next = 0;
        if (hit + 1 < end && pread(fd, &next, 1, (off_t)(hit + 1)) != 1) return CSV_READ_FAILED;
        if (hit + 1 >= end || next != '"') {
            *newlines = lines;
            return hit;
        }
        *escaped = 1;
        pos = hit + 2;
    }
}
