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

#define CSV_TEXTPARSE_ABI 2
#define CSV_UNSUPPORTED (-1)
#define CSV_TOO_MANY (-2)
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
static inline const char *read_digits(const char *p, uint64_t *w, int64_t *kept,
                                      int64_t *dropped, int *truncated) {
    uint64_t x = *w;
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

/* Reads one number at p; 1 on success (tok filled), 0 when it is not a plain number. */
static int scan_number(const char *p, const char *end, token_t *tok) {
    tok->start = p;
    int negative = 0;
    if (p < end && *p == '-') {
        negative = 1;
        p++;
    }
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
        tok->value = negative ? -0.0 : 0.0;
        return 1;
    }
    if (!truncated && w <= (UINT64_C(1) << 53) && exp10 >= -22 && exp10 <= 22) {
        double d = (double)w;
        d = exp10 < 0 ? d / POW10[-exp10] : d * POW10[exp10];
        tok->value = negative ? -d : d;
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
