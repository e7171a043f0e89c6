/* Single-pass tokeniser for Agora log lines (text and fluentd JSON): a block of lines -> Arrow columns.
 *
 * Why native: the polars expressions in transforms.py read each key with its own regex pass over the
 * line (about 640 bytes), which caps the parser near 200k lines/s on two cores. This reads a line once.
 *
 * It handles only the logger's usual lines and hands every other line back untouched ("slow" lines,
 * parsed by the polars code), so that both paths give the same answer by construction:
 *   - ASCII without control bytes, so a space is the only whitespace (tabs, CR, NUL, UTF-8 -> slow),
 *     and at most 4 KB,
 *   - text: the exact timestamp `YYYY-MM-DD HH:MM:SS,mmm`, a payload after "] ",
 *   - JSON: a flat, compact object of plain strings (transforms._SIMPLE_JSON) whose `time` starts
 *     `YYYY-MM-DDTHH:MM:SS.mmm`,
 *   - both ids present, numbers in their plain form, no reject of any kind,
 *   - or, with the same tokenising, a line of the usual shape without one of the two ids: a keyless
 *     line, handed back by its number only (real logs are 73% keyless lines: other apps' events).
 * Text keys are tokenised as transforms._text_tokens does (regex ` (?:keys)=(?:"[^"]*"|\S*)`, left to
 * right, non-overlapping), one pair of quotes stripped; JSON keys as a JSON path reads them. The last
 * occurrence of a key wins, and empty is null.
 *
 * Per stream (the original's key) within the block, it also keeps the rows that decide the descriptive
 * attributes (the stream's first row and rows bringing a field still missing), plus the first, least
 * and greatest video id, so descriptive text is never materialised for every line.
 *
 * The scan runs without the GIL: blocks can be scanned in parallel threads.
 */
#ifndef LINESCAN_CORE_ONLY /* the memory-safety test compiles the scanner without Python */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#endif

#include <stdint.h>
#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <string.h>
#include <strings.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define SHORT_TRACKING_ID 30
#define MAX_NUMBER_TEXT 48

enum {
    K_EVENT_TYPE, K_TRACKING, K_TPMID, K_LOCATION, K_BUFFERING, K_AFTER_SEEK, K_AUTO,
    K_SOURCE_TAG, K_COMPONENT, K_CLIENT_ID, K_USERAGENT, K_USER_AGENT, K_TITLE, K_SESSION,
    K_VIDEO_LENGTH, K_PROGRAM, K_PRODUCER, K_DEVICE, NKEYS
};
static const char *KEY_NAMES[NKEYS] = {
    "event_type", "x_tracking_id", "x_tpmid", "x_video_location", "x_buffering_length",
    "x_after_seek", "x_auto", "source_tag", "component", "client_id", "x_useragent", "x_user_agent",
    "x_episode_title", "x_session_id", "x_video_length", "x_program_title", "x_producer", "x_client_id",
};
static size_t KEY_LENGTHS[NKEYS];
/* keys only fluentd JSON lines have (read into the same Span arrays, after the text keys) */
enum { J_TIME = NKEYS, J_PATH, J_REMOTE, J_AGENT, NJKEYS };
static const char *JSON_ONLY_NAMES[NJKEYS - NKEYS] = {"time", "path", "remote", "agent"};

/* descriptive fields, in transforms.DESCRIBING order: the key each reads (user_agent: two keys) */
#define NDESC 10
static const char *DESC_NAMES[NDESC] = {
    "source", "component", "client_id", "user_agent", "title", "session_id", "video_length",
    "program", "producer", "device_id",
};
enum { D_SOURCE, D_COMPONENT, D_CLIENT_ID, D_USER_AGENT };
static const int DESC_KEYS[NDESC] = {
    K_SOURCE_TAG, K_COMPONENT, K_CLIENT_ID, K_USERAGENT, K_TITLE, K_SESSION, K_VIDEO_LENGTH,
    K_PROGRAM, K_PRODUCER, K_DEVICE,
};

/* ------------------------------------------------------------------ growable buffers, Arrow columns */

typedef struct {
    char *data;
    size_t len, cap;
    int failed;
} Buf;

#define HOT static inline __attribute__((always_inline))

static __attribute__((noinline)) int buf_grow(Buf *b, size_t extra) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra) cap *= 2;
    char *grown = realloc(b->data, cap);
    if (!grown) { b->failed = 1; return 0; }
    b->data = grown;
    b->cap = cap;
    return 1;
}

HOT int buf_reserve(Buf *b, size_t extra) { return b->len + extra <= b->cap || buf_grow(b, extra); }

HOT void buf_put(Buf *b, const void *src, size_t n) {
    if (n == 0 || !buf_reserve(b, n)) return;
    memcpy(b->data + b->len, src, n);
    b->len += n;
}

/* bit i of a bitmap filled in order (i = 0, 1, 2, ...) */
HOT void bit_set(Buf *bits, size_t i, int value) {
    if (i % 8 == 0) {
        if (!buf_reserve(bits, 1)) return;
        bits->data[bits->len++] = 0;
    }
    bits->data[i / 8] |= (char)((value != 0) << (i % 8));
}

typedef struct { /* Arrow utf8: validity bitmap, int32 offsets, data */
    Buf valid, offsets, data;
    size_t rows;
} StrCol;

HOT void str_push(StrCol *c, const char *s, size_t n, int valid) {
    if (c->rows == 0) { int32_t zero = 0; buf_put(&c->offsets, &zero, 4); }
    if (valid) buf_put(&c->data, s, n);
    bit_set(&c->valid, c->rows, valid);
    int32_t end = (int32_t)c->data.len;
    buf_put(&c->offsets, &end, 4);
    c->rows++;
}

typedef struct { /* fixed width values plus a validity bitmap */
    Buf values, valid;
    size_t rows;
} FixCol;

HOT void fix_push(FixCol *c, const void *value, size_t width, int valid) {
    buf_put(&c->values, value, width);
    bit_set(&c->valid, c->rows, valid);
    c->rows++;
}

static void free_buf(Buf *b) { free(b->data); b->data = NULL; }
static void free_str(StrCol *c) { free_buf(&c->valid); free_buf(&c->offsets); free_buf(&c->data); }
static void free_fix(FixCol *c) { free_buf(&c->values); free_buf(&c->valid); }
static int str_failed(StrCol *c) { return c->valid.failed || c->offsets.failed || c->data.failed; }
static int fix_failed(FixCol *c) { return c->values.failed || c->valid.failed; }

/* ------------------------------------------------------------------ line tokenising */

typedef struct { uint32_t off, len; int present; } Span;

/* One pass over a line finds its end and classifies its bytes into bitmaps of spaces and quotes, so
 * the tokeniser jumps from space to space with bit operations instead of searching byte by byte. */
#define MAX_FAST_LINE 4096 /* longer lines take the polars parser */
#define WORDS (MAX_FAST_LINE / 64)

typedef struct {
    uint64_t spaces[WORDS], quotes[WORDS];
    size_t n;
} Masks;

/* the first set bit at or after `from`, or n */
static inline size_t next_bit(const uint64_t *bits, size_t from, size_t n) {
    if (from >= n) return n;
    size_t w = from / 64;
    uint64_t word = bits[w] & (~0ULL << (from % 64));
    size_t last = (n - 1) / 64;
    while (!word) {
        if (++w > last) return n;
        word = bits[w];
    }
    size_t at = w * 64 + (size_t)__builtin_ctzll(word);
    return at < n ? at : n;
}

/* The end of the line starting at s (its '\n', or n). *clean: no byte < 0x20 (tab, CR, NUL, ...) or
 * >= 0x80 (UTF-8, corrupt bytes) before it and at most MAX_FAST_LINE bytes, so a space is the only
 * whitespace in the line; then `m` holds its spaces and quotes. */
static size_t line_end(const unsigned char *s, size_t n, int *clean, Masks *m) {
    size_t i = 0, limit = n < MAX_FAST_LINE ? n : MAX_FAST_LINE;
    const unsigned char *nl;
#ifdef __SSE2__
    const __m128i control = _mm_set1_epi8(0x20), space = _mm_set1_epi8(' '), quote = _mm_set1_epi8('"');
    for (; i + 64 <= limit; i += 64) { /* 64 bytes -> one word of each bitmap */
        uint64_t sp = 0, qu = 0, bad = 0;
        for (int j = 0; j < 4; j++) {
            __m128i x = _mm_loadu_si128((const __m128i *)(s + i + 16 * j));
            sp |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(x, space)) << (16 * j);
            qu |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(x, quote)) << (16 * j);
            /* signed compare: bytes >= 0x80 are negative, so below 0x20 too */
            bad |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmplt_epi8(x, control)) << (16 * j);
        }
        m->spaces[i / 64] = sp;
        m->quotes[i / 64] = qu;
        if (bad) { i += (size_t)__builtin_ctzll(bad); goto found; }
    }
#endif
    for (; i < limit; i++) {
        if (i % 64 == 0) m->spaces[i / 64] = m->quotes[i / 64] = 0;
        if (s[i] < 0x20 || s[i] >= 0x80) goto found;
        m->spaces[i / 64] |= (uint64_t)(s[i] == ' ') << (i % 64);
        m->quotes[i / 64] |= (uint64_t)(s[i] == '"') << (i % 64);
    }
    if (limit == n) { *clean = 1; m->n = n; return n; }
    *clean = 0; /* too long */
    nl = memchr(s + i, '\n', n - i);
    return nl ? (size_t)(nl - s) : n;
found:
    *clean = s[i] == '\n';
    if (*clean) { m->n = i; return i; }
    nl = memchr(s + i, '\n', n - i);
    return nl ? (size_t)(nl - s) : n;
}

static int digits(const unsigned char *s, int n, int *out) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 1;
}

static int64_t days_from_civil(int y, int m, int d) { /* H. Hinnant's algorithm */
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* `YYYY-MM-DD<date_time>HH:MM:SS<millis>mmm` at s -> epoch milliseconds; 0 if not that shape */
static int parse_stamp(const unsigned char *s, size_t n, int64_t *ms, char date_time, char millis) {
    static const int month_days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d, h, mi, se, mil;
    if (n < 23 || s[4] != '-' || s[7] != '-' || s[10] != date_time || s[13] != ':' || s[16] != ':' ||
        s[19] != millis)
        return 0;
    if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) || !digits(s + 11, 2, &h) ||
        !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &se) || !digits(s + 20, 3, &mil))
        return 0;
    if (y < 1900 || y > 2199 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || se > 59) return 0;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > month_days[mo - 1] + (mo == 2 && leap)) return 0;
    *ms = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60000LL + se * 1000LL + mil;
    return 1;
}

/* where the original's payload starts: the first "] " (its space), or 0 if there is none */
static size_t payload_marker(const unsigned char *s, size_t n) {
    for (const unsigned char *p = s, *end = s + n; p + 1 < end; p++) {
        p = memchr(p, ']', (size_t)(end - p - 1));
        if (!p) return 0;
        if (p[1] == ' ') return (size_t)(p - s) + 1;
    }
    return 0;
}

/* Keys are found by their first 6 bytes (the shortest key's length) in a direct-mapped table, whose
 * multiplier is chosen so that every prefix has a slot of its own, then `name=` is compared as three
 * masked 8-byte words (two names share a prefix at most): a token costs one slot and one compare. */
#define PREFIX_MASK 0xFFFFFFFFFFFFULL /* 6 bytes */
#define TABLE_BITS 8
#define NAME_WORDS 3 /* names of up to 23 bytes, '=' included */
typedef struct { uint64_t words[NAME_WORDS], masks[NAME_WORDS]; } Name;
static Name NAMES[NKEYS];
static struct { uint64_t prefix; int names[3]; } KEY_TABLE[1 << TABLE_BITS];
static uint64_t TABLE_MULTIPLIER;

static inline size_t table_slot(uint64_t prefix) {
    return (size_t)((prefix * TABLE_MULTIPLIER) >> (64 - TABLE_BITS));
}

/* the 24 bytes from s, zero beyond the n available (zero never equals the '=' a name ends with) */
static inline void load_words(const unsigned char *s, size_t n, uint64_t *words) {
    if (n >= 8 * NAME_WORDS) {
        memcpy(words, s, 8 * NAME_WORDS);
    } else {
        unsigned char padded[8 * NAME_WORDS] = {0};
        memcpy(padded, s, n);
        memcpy(words, padded, 8 * NAME_WORDS);
    }
}

/* 1 when every key prefix got a slot of its own under TABLE_MULTIPLIER */
static int fill_key_table(void) {
    memset(KEY_TABLE, 0, sizeof KEY_TABLE);
    for (size_t i = 0; i < (1 << TABLE_BITS); i++) KEY_TABLE[i].names[0] = -1;
    for (int k = 0; k < NKEYS; k++) {
        uint64_t prefix = NAMES[k].words[0] & PREFIX_MASK;
        size_t i = table_slot(prefix);
        if (KEY_TABLE[i].names[0] >= 0 && KEY_TABLE[i].prefix != prefix) return 0;
        int used = 0;
        while (KEY_TABLE[i].names[used] >= 0) used++;
        if (used == 2) return 0; /* three names with one prefix: not this table */
        KEY_TABLE[i].prefix = prefix;
        KEY_TABLE[i].names[used] = k;
        KEY_TABLE[i].names[used + 1] = -1;
    }
    return 1;
}

/* 0 if no multiplier fits (it takes a few tries: 16 prefixes in 256 slots) */
static void build_json_keys(void);
static void init_field_name_chars(void);

static int build_key_table(void) {
    build_json_keys();
    init_field_name_chars();
    for (int k = 0; k < NKEYS; k++) {
        unsigned char name[8 * NAME_WORDS] = {0}, mask[8 * NAME_WORDS] = {0};
        KEY_LENGTHS[k] = strlen(KEY_NAMES[k]);
        memcpy(name, KEY_NAMES[k], KEY_LENGTHS[k]);
        name[KEY_LENGTHS[k]] = '=';
        memset(mask, 0xFF, KEY_LENGTHS[k] + 1);
        memcpy(NAMES[k].words, name, sizeof name);
        memcpy(NAMES[k].masks, mask, sizeof mask);
    }
    uint64_t state = 0x9E3779B97F4A7C15ULL;
    for (int tries = 0; tries < 10000; tries++) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL; /* an LCG: deterministic */
        TABLE_MULTIPLIER = state | 1;
        if (fill_key_table()) return 1;
    }
    return 0;
}

/* the key whose `name=` starts s, or -1; n: the bytes readable from s (the block's, not the line's:
 * past the line's end comes its '\n', which no name contains) */
static inline int key_at(const unsigned char *s, size_t n) {
    uint64_t w[NAME_WORDS];
    load_words(s, n, w);
    uint64_t prefix = w[0] & PREFIX_MASK;
    size_t i = table_slot(prefix);
    if (KEY_TABLE[i].prefix != prefix) return -1;
    for (const int *k = KEY_TABLE[i].names; *k >= 0; k++) {
        const Name *name = &NAMES[*k];
        uint64_t diff = 0;
        for (int j = 0; j < NAME_WORDS; j++) diff |= (w[j] ^ name->words[j]) & name->masks[j];
        if (!diff) return *k;
    }
    return -1;
}

/* every key's last value in line s (offsets relative to base), looking for pairs from `from`;
 * `readable`: bytes from s to the end of the block */
static void tokenise(const unsigned char *s, size_t readable, const Masks *m, size_t from, uint32_t base,
                     Span *spans) {
    memset(spans, 0, sizeof(Span) * NJKEYS);
    size_t n = m->n, p = next_bit(m->spaces, from, n);
    while (p < n) {
        int k = key_at(s + p + 1, readable - p - 1);
        if (k < 0) { p = next_bit(m->spaces, p + 1, n); continue; }
        size_t v = p + 1 + KEY_LENGTHS[k] + 1, end = n;
        if (v < n && s[v] == '"') end = next_bit(m->quotes, v + 1, n);
        end = end < n ? end + 1 : next_bit(m->spaces, v, n); /* closed quote, or up to a space */
        size_t vs = v, ve = end; /* strip one leading and one trailing quote, independently */
        if (ve > vs && s[vs] == '"') vs++;
        if (ve > vs && s[ve - 1] == '"') ve--;
        spans[k].off = base + (uint32_t)vs;
        spans[k].len = (uint32_t)(ve - vs);
        spans[k].present = ve > vs;
        p = next_bit(m->spaces, end, n);
    }
}

static int plain_decimal(const unsigned char *s, size_t n) { /* -?[0-9]+(\.[0-9]+)? */
    size_t i = 0, before = 0, after = 0;
    if (i < n && s[i] == '-') i++;
    while (i < n && s[i] >= '0' && s[i] <= '9') { i++; before++; }
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9') { i++; after++; }
        if (!after) return 0;
    }
    return i == n && before > 0 && n < MAX_NUMBER_TEXT;
}

/* a plain_decimal's value: exact integer / exact power of ten is correctly rounded (as strtod and
 * polars are) while the digits fit in 2^53; longer texts go to strtod */
static double decimal_value(const unsigned char *s, size_t n) {
    static const double tens[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
                                  1e12, 1e13, 1e14, 1e15};
    size_t i = s[0] == '-', significant = 0, decimals = 0;
    uint64_t mantissa = 0;
    size_t point = 0;
    for (; i < n; i++) {
        if (s[i] == '.') { point = 1; continue; }
        mantissa = mantissa * 10 + (s[i] - '0');
        if (mantissa) significant++;
        decimals += point;
    }
    if (significant > 15 || decimals > 15) {
        char text[MAX_NUMBER_TEXT];
        memcpy(text, s, n);
        text[n] = 0;
        return strtod(text, NULL);
    }
    double value = (double)mantissa / tens[decimals];
    return s[0] == '-' ? -value : value;
}

/* ------------------------------------------------------------------ dictionaries of the block */

/* Distinct strings of the block (stream keys, event types), numbered in order of appearance and found
 * through a small open-addressing index of (number + 1): the index stays in cache, and it grows as
 * strings appear (no count of lines first). The strings lie back to back in `arena`, in number order:
 * they are the Arrow data of the dictionary as they are. */
typedef struct { uint64_t hash; uint32_t off, len; } Entry;

typedef struct {
    uint32_t *index;
    size_t mask;
    Buf entries; /* Entry[] */
    size_t count;
    Buf arena;
} Dict;

static uint64_t hash_bytes(const unsigned char *s, size_t n) { /* 8 bytes at a time, then mixed */
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ n, w;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        memcpy(&w, s + i, 8);
        h = (h ^ w) * 0xFF51AFD7ED558CCDULL;
        h ^= h >> 32;
    }
    w = 0;
    memcpy(&w, s + i, n - i);
    h = (h ^ w) * 0xC4CEB9FE1A85EC53ULL;
    return h ^ (h >> 29);
}

static int bytes_less(const unsigned char *a, size_t an, const unsigned char *b, size_t bn) {
    int c = memcmp(a, b, an < bn ? an : bn);
    return c < 0 || (c == 0 && an < bn);
}

static inline Entry *entry_at(Dict *d, size_t number) { return (Entry *)d->entries.data + number; }

static int index_grow(Dict *d) {
    size_t slots = d->index ? 2 * (d->mask + 1) : 64;
    uint32_t *index = calloc(slots, sizeof *index);
    if (!index) return 0;
    for (size_t number = 0; number < d->count; number++) {
        size_t i = (size_t)entry_at(d, number)->hash & (slots - 1);
        while (index[i]) i = (i + 1) & (slots - 1);
        index[i] = (uint32_t)number + 1;
    }
    free(d->index);
    d->index = index;
    d->mask = slots - 1;
    return 1;
}

/* the number of string s, added if new (*created set); -1 when out of memory */
static long dict_number(Dict *d, const unsigned char *s, size_t n, int *created) {
    if ((d->count + 1) * 2 > d->mask + 1 && !index_grow(d)) return -1;
    uint64_t h = hash_bytes(s, n);
    size_t i = (size_t)h & d->mask;
    for (;; i = (i + 1) & d->mask) {
        uint32_t slot = d->index[i];
        if (!slot) break;
        Entry *e = entry_at(d, slot - 1);
        if (e->hash == h && e->len == n && memcmp(d->arena.data + e->off, s, n) == 0) {
            *created = 0;
            return (long)slot - 1;
        }
    }
    Entry fresh = {.hash = h, .off = (uint32_t)d->arena.len, .len = (uint32_t)n};
    buf_put(&d->arena, s, n);
    buf_put(&d->entries, &fresh, sizeof fresh);
    if (d->arena.failed || d->entries.failed) return -1;
    d->index[i] = (uint32_t)++d->count;
    *created = 1;
    return (long)d->count - 1;
}

static void dict_free(Dict *d) { free(d->index); free_buf(&d->entries); free_buf(&d->arena); }
static int dict_failed(Dict *d) { return d->entries.failed || d->arena.failed; }

/* what the block keeps per stream, by stream number */
typedef struct {
    uint32_t min_off, min_len, max_off, max_len; /* least and greatest x_tpmid (in the block) */
    uint32_t found;                              /* descriptive fields seen non-empty */
} Stream;

/* ------------------------------------------------------------------ custom fields
 *
 * The values of configured keys (custom fields: `custom_fields.py`) on each event line, read while the
 * line is in cache instead of in a second pass over the block. Their rules are their own, not the
 * scanner's key table (any key may be configured): text lines, the pairs after the first "] ",
 * tokenised left to right: `name=value`, the value quoted ("..." without quotes inside; one pair of
 * quotes dropped) or bare up to the next space; the last occurrence of a key wins. Fluentd JSON lines
 * ("{..."): flat `"name":"value"` pairs without escapes; any other JSON line gives nulls. Empty is null. */
#define MAX_FIELDS 64

typedef struct { const char *at; size_t len; } FieldText;

static uint8_t FIELD_NAME_CHAR[256]; /* [A-Za-z0-9_-] */

static void init_field_name_chars(void) {
    for (int ch = 0; ch < 256; ch++)
        FIELD_NAME_CHAR[ch] = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                              (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
}

static const char *field_next_space(const char *p, const char *end) {
    const char *space = memchr(p, ' ', (size_t)(end - p));
    return space ? space : end;
}

static void field_match(const char *name, size_t len, FieldText value, FieldText *found,
                        const FieldText *keys, int nkeys) {
    for (int k = 0; k < nkeys; k++)
        if (keys[k].len == len && memcmp(keys[k].at, name, len) == 0) found[k] = value;
}

static void field_text_line(const char *s, const char *end, FieldText *found, const FieldText *keys,
                            int nkeys) {
    const char *p = s;
    for (;;) { /* the pairs start after the first "] " */
        p = memchr(p, ']', (size_t)(end - p));
        if (!p || p + 1 >= end) return;
        if (p[1] == ' ') break;
        p++;
    }
    p += 2;
    while (p < end) {
        while (p < end && *p == ' ') p++;
        const char *name = p;
        while (p < end && FIELD_NAME_CHAR[(uint8_t)*p]) p++;
        if (p == name || p >= end || *p != '=') { /* not a pair: skip the word */
            p = field_next_space(p, end);
            continue;
        }
        size_t name_len = (size_t)(p - name);
        p++;
        FieldText value;
        if (p < end && *p == '"') {
            const char *close = memchr(p + 1, '"', (size_t)(end - p - 1));
            if (!close) close = end;
            value.at = p + 1;
            value.len = (size_t)(close - p - 1);
            p = close < end ? close + 1 : end;
        } else {
            value.at = p;
            p = field_next_space(p, end);
            value.len = (size_t)(p - value.at);
        }
        field_match(name, name_len, value, found, keys, nkeys);
    }
}

static void field_json_line(const char *s, const char *end, FieldText *found, const FieldText *keys,
                            int nkeys) {
    FieldText local[MAX_FIELDS];
    memset(local, 0, sizeof(FieldText) * (size_t)nkeys);
    const char *p = s + 1;
    while (p < end && *p != '}') {
        if (*p != '"') return;
        const char *name = ++p;
        while (p < end && *p != '"' && *p != '\\') p++;
        if (p + 2 >= end || *p != '"' || p[1] != ':' || p[2] != '"') return;
        size_t name_len = (size_t)(p - name);
        p += 3;
        FieldText value = {p, 0};
        while (p < end && *p != '"' && *p != '\\') p++;
        if (p >= end || *p != '"') return;
        value.len = (size_t)(p - value.at);
        field_match(name, name_len, value, local, keys, nkeys);
        p++;
        if (p < end && *p == ',') p++;
    }
    if (p >= end) return; /* no closing brace: not the flat shape */
    memcpy(found, local, sizeof(FieldText) * (size_t)nkeys);
}

/* ------------------------------------------------------------------ the scan */

typedef struct {
    /* events of fast lines */
    FixCol ev_line, ev_ts, ev_location, ev_buffering, ev_type; /* ev_type: int32 number in `types` */
    Buf ev_stream;                  /* uint32 number in `streams` */
    Buf ev_after_seek, ev_auto;     /* bitmaps */
    size_t events;
    /* attribute rows */
    FixCol at_line;
    StrCol at_key, at_tracking, at_desc[NDESC];
    Buf at_first_stream; /* uint32 stream slot + 1 for the stream's first row, 0 otherwise */
    /* keyless lines (read, but without x_tracking_id or x_tpmid): their numbers only */
    FixCol keyless_line;
    /* slow lines */
    FixCol slow_line;
    Buf slow_text;
    size_t lines;
    Dict streams, types; /* the block's stream keys and event types */
    Buf stream_info;     /* Stream[], by stream number */
    /* custom fields: each event's value of each configured key */
    int nfields;
    FieldText field_keys[MAX_FIELDS];
    StrCol ev_field[MAX_FIELDS];
    int no_memory;
} Scan;

static void scan_free(Scan *r) {
    free_fix(&r->ev_line); free_fix(&r->ev_ts); free_fix(&r->ev_location); free_fix(&r->ev_buffering);
    free_fix(&r->ev_type); free_buf(&r->ev_stream); free_buf(&r->ev_after_seek); free_buf(&r->ev_auto);
    free_fix(&r->at_line); free_str(&r->at_key); free_str(&r->at_tracking);
    for (int d = 0; d < NDESC; d++) free_str(&r->at_desc[d]);
    free_buf(&r->at_first_stream); free_fix(&r->keyless_line); free_fix(&r->slow_line); free_buf(&r->slow_text);
    dict_free(&r->streams); dict_free(&r->types); free_buf(&r->stream_info);
    for (int f = 0; f < r->nfields; f++) free_str(&r->ev_field[f]);
}

static int is_true(const unsigned char *block, Span sp) {
    return sp.present && sp.len == 4 && strncasecmp((const char *)block + sp.off, "true", 4) == 0;
}

/* A text line in the logger's usual shape -> its keys' last values, descriptive fields and time; 0 for
 * any other line. */
static int read_text(const unsigned char *block, size_t size, size_t start, const Masks *m, Span *sp,
                     Span *desc, int64_t *ts) {
    size_t n = m->n;
    const unsigned char *s = block + start;
    if (n == 0 || !parse_stamp(s, n, ts, ' ', ',')) return 0;
    size_t marker = payload_marker(s, n);
    if (!marker) return 0;
    /* pairs are searched in the whole line, but the usual `<time> - <logger> [INFO]` has none */
    size_t from = memchr(s, '=', marker) ? 0 : marker;
    tokenise(s, size - start, m, from, (uint32_t)start, sp);
    for (int d = 0; d < NDESC; d++) desc[d] = sp[DESC_KEYS[d]];
    if (!desc[D_USER_AGENT].present) desc[D_USER_AGENT] = sp[K_USER_AGENT]; /* else x_user_agent */
    return 1;
}

/* JSON key names by length: a key is compared with the few names of its length */
#define MAX_JSON_KEY 24
static int JSON_BY_LENGTH[MAX_JSON_KEY][NJKEYS + 1];

static const char *json_key_name(int k) { return k < NKEYS ? KEY_NAMES[k] : JSON_ONLY_NAMES[k - NKEYS]; }

static void build_json_keys(void) {
    int used[MAX_JSON_KEY] = {0};
    for (size_t len = 0; len < MAX_JSON_KEY; len++) JSON_BY_LENGTH[len][0] = -1;
    for (int k = 0; k < NJKEYS; k++) {
        size_t len = strlen(json_key_name(k));
        JSON_BY_LENGTH[len][used[len]++] = k;
        JSON_BY_LENGTH[len][used[len]] = -1;
    }
}

static int json_key(const unsigned char *s, size_t len) {
    if (len >= MAX_JSON_KEY) return -1;
    for (const int *k = JSON_BY_LENGTH[len]; *k >= 0; k++)
        if (memcmp(json_key_name(*k), s, len) == 0) return *k;
    return -1;
}

/* the third '/'-separated part of a fluentd path (`/log/<source>/...`), as polars' split().get(2) */
static Span path_part(const unsigned char *block, Span path) {
    Span part = {0};
    const unsigned char *p = block + path.off;
    size_t slashes = 0, begin = 0;
    for (size_t i = 0; i <= path.len; i++) {
        if (i < path.len && p[i] != '/') continue;
        if (slashes == 2) {
            part.off = path.off + (uint32_t)begin;
            part.len = (uint32_t)(i - begin);
            part.present = i > begin;
            return part;
        }
        slashes++;
        begin = i + 1;
    }
    return part;
}

/* A fluentd JSON line of the usual shape (transforms._SIMPLE_JSON: a flat, compact object of plain
 * strings without escapes) whose time starts `YYYY-MM-DDTHH:MM:SS.mmm` -> as read_text; 0 for any other
 * line. Every '"' of such a line delimits a string, so the quotes bitmap gives the pairs. */
static int read_json(const unsigned char *block, size_t start, const Masks *m, Span *sp, Span *desc,
                     int64_t *ts) {
    size_t n = m->n;
    const unsigned char *s = block + start;
    memset(sp, 0, sizeof(Span) * NJKEYS);
    if (n < 2 || s[n - 1] != '}' || memchr(s, '\\', n)) return 0;
    for (size_t i = 1;;) {
        if (i >= n || s[i] != '"') return 0;
        size_t key_end = next_bit(m->quotes, i + 1, n);
        if (key_end + 2 >= n || s[key_end + 1] != ':' || s[key_end + 2] != '"') return 0;
        size_t value = key_end + 3, value_end = next_bit(m->quotes, value, n);
        if (value_end >= n) return 0;
        int k = json_key(s + i + 1, key_end - i - 1);
        if (k >= 0) { /* the last of repeated keys wins, as in a JSON path */
            sp[k].off = (uint32_t)(start + value);
            sp[k].len = (uint32_t)(value_end - value);
            sp[k].present = value_end > value;
        }
        i = value_end + 1;
        if (i < n && s[i] == ',') { i++; continue; }
        if (i == n - 1) break; /* the closing '}' */
        return 0;
    }
    Span time = sp[J_TIME];
    const unsigned char *t = block + time.off;
    if (time.len < 23 || !parse_stamp(t, time.len, ts, 'T', '.')) return 0; /* what follows is ignored */
    for (int d = 0; d < NDESC; d++) desc[d] = sp[DESC_KEYS[d]];
    Span source = sp[J_PATH].present ? path_part(block, sp[J_PATH]) : (Span){0};
    if (source.present) desc[D_SOURCE] = source; /* from the path, else source_tag */
    desc[D_CLIENT_ID] = sp[J_REMOTE];
    desc[D_USER_AGENT] = sp[J_AGENT]; /* agent, else x_useragent, else x_user_agent */
    if (!desc[D_USER_AGENT].present) desc[D_USER_AGENT] = sp[K_USERAGENT];
    if (!desc[D_USER_AGENT].present) desc[D_USER_AGENT] = sp[K_USER_AGENT];
    return 1;
}

/* the configured keys' values of one event line (n bytes from s), one row of each field column */
static void field_values(Scan *r, const unsigned char *s, size_t n) {
    FieldText found[MAX_FIELDS];
    memset(found, 0, sizeof(FieldText) * (size_t)r->nfields);
    const char *line = (const char *)s;
    if (n && *line == '{')
        field_json_line(line, line + n, found, r->field_keys, r->nfields);
    else
        field_text_line(line, line + n, found, r->field_keys, r->nfields);
    for (int f = 0; f < r->nfields; f++)
        str_push(&r->ev_field[f], found[f].at, found[f].len, found[f].at && found[f].len);
}

enum { LINE_SLOW = 0, LINE_EVENT = 1, LINE_KEYLESS = 2 };

/* one line: LINE_EVENT if it became an event, LINE_KEYLESS if it has the usual shape but lacks an id
 * (the general parser's `keyless` reject: no other reason comes first for a line read here), else
 * LINE_SLOW */
static int scan_line(Scan *r, const unsigned char *block, size_t size, size_t start, const Masks *m,
                     uint32_t index) {
    Span sp[NJKEYS], desc[NDESC];
    int64_t ts;
    int read = block[start] == '{' ? read_json(block, start, m, sp, desc, &ts)
                                   : read_text(block, size, start, m, sp, desc, &ts);
    if (!read) return 0;
    Span trk = sp[K_TRACKING], tpm = sp[K_TPMID];
    if (!trk.present || !tpm.present) return LINE_KEYLESS;

    int64_t buffering = 0;
    Span bf = sp[K_BUFFERING];
    if (bf.present) {
        const unsigned char *b = block + bf.off;
        size_t bs = 0, be = bf.len;
        while (bs < be && b[bs] == ' ') bs++;
        while (be > bs && b[be - 1] == ' ') be--;
        if (be == bs || be - bs > 18) return 0;
        for (size_t i = bs; i < be; i++) {
            if (b[i] < '0' || b[i] > '9') return 0; /* negative or not a number: bad data */
            buffering = buffering * 10 + (b[i] - '0');
        }
    }
    double location = 0;
    Span lo = sp[K_LOCATION];
    if (lo.present) {
        if (!plain_decimal(block + lo.off, lo.len)) return 0;
        location = decimal_value(block + lo.off, lo.len);
    }

    /* the original's key: the tracking id, plus -x_tpmid when the id is short */
    unsigned char keybuf[512];
    const unsigned char *key = block + trk.off;
    size_t key_len = trk.len;
    if (trk.len < SHORT_TRACKING_ID) {
        if (trk.len + 1 + tpm.len > sizeof keybuf) return 0;
        memcpy(keybuf, block + trk.off, trk.len);
        keybuf[trk.len] = '-';
        memcpy(keybuf + trk.len + 1, block + tpm.off, tpm.len);
        key = keybuf;
        key_len = trk.len + 1 + tpm.len;
    }
    int created = 0, new_type;
    long number = dict_number(&r->streams, key, key_len, &created);
    Span et = sp[K_EVENT_TYPE];
    int32_t type = et.present ? (int32_t)dict_number(&r->types, block + et.off, et.len, &new_type) : 0;
    if (created) {
        Stream fresh = {0};
        buf_put(&r->stream_info, &fresh, sizeof fresh);
    }
    if (number < 0 || type < 0 || r->stream_info.failed) { r->no_memory = 1; return 0; }
    Stream *st = (Stream *)r->stream_info.data + number;

    size_t e = r->events++;
    uint32_t line = index;
    fix_push(&r->ev_line, &line, 4, 1);
    fix_push(&r->ev_ts, &ts, 8, 1);
    fix_push(&r->ev_location, &location, 8, lo.present);
    fix_push(&r->ev_buffering, &buffering, 8, bf.present);
    uint32_t stream = (uint32_t)number;
    buf_put(&r->ev_stream, &stream, 4);
    fix_push(&r->ev_type, &type, 4, et.present);
    bit_set(&r->ev_after_seek, e, is_true(block, sp[K_AFTER_SEEK]));
    bit_set(&r->ev_auto, e, is_true(block, sp[K_AUTO]));
    if (r->nfields) field_values(r, block + start, m->n);

    const unsigned char *tp = block + tpm.off;
    if (created) {
        st->min_off = st->max_off = tpm.off;
        st->min_len = st->max_len = tpm.len;
    } else {
        if (bytes_less(tp, tpm.len, block + st->min_off, st->min_len)) { st->min_off = tpm.off; st->min_len = tpm.len; }
        if (bytes_less(block + st->max_off, st->max_len, tp, tpm.len)) { st->max_off = tpm.off; st->max_len = tpm.len; }
    }
    uint32_t have = 0;
    for (int d = 0; d < NDESC; d++) have |= (uint32_t)desc[d].present << d;
    if (created || (have & ~st->found)) {
        st->found |= have;
        fix_push(&r->at_line, &line, 4, 1);
        str_push(&r->at_key, (const char *)key, key_len, 1);
        str_push(&r->at_tracking, (const char *)block + trk.off, trk.len, 1);
        for (int d = 0; d < NDESC; d++)
            str_push(&r->at_desc[d], (const char *)block + desc[d].off, desc[d].len, desc[d].present);
        uint32_t first = created ? (uint32_t)number + 1 : 0;
        buf_put(&r->at_first_stream, &first, 4);
        if (created) { /* the stream's first video id, kept until the min/max columns are built */
            uint32_t media[2] = {tpm.off, tpm.len};
            buf_put(&r->at_first_stream, media, 8);
        }
    }
    return 1;
}

static void scan_block(Scan *r, const unsigned char *block, size_t size) {
    /* room for the usual lines (over 512 bytes) up front, without a pass to count them: the pushes
     * grow the buffers when lines are shorter, and unused room is given back with the columns */
    size_t lines = size / 512 + 1;
    FixCol *fixed[] = {&r->ev_line, &r->ev_ts, &r->ev_location, &r->ev_buffering, &r->ev_type};
    for (size_t f = 0; f < sizeof fixed / sizeof *fixed; f++) {
        buf_reserve(&fixed[f]->values, 8 * (lines + 1));
        buf_reserve(&fixed[f]->valid, lines / 8 + 1);
    }
    buf_reserve(&r->ev_stream, 4 * (lines + 1));
    buf_reserve(&r->ev_after_seek, lines / 8 + 1);
    buf_reserve(&r->ev_auto, lines / 8 + 1);

    size_t start = 0;
    uint32_t index = 0;
    Masks masks;
    while (start < size) {
        int clean;
        size_t end = start + line_end(block + start, size - start, &clean, &masks);
        int kind = clean ? scan_line(r, block, size, start, &masks, index) : LINE_SLOW;
        if (kind == LINE_KEYLESS) {
            fix_push(&r->keyless_line, &index, 4, 1);
        } else if (kind == LINE_SLOW) {
            fix_push(&r->slow_line, &index, 4, 1);
            buf_put(&r->slow_text, block + start, end - start);
            buf_put(&r->slow_text, "\n", 1);
        }
        if (r->no_memory) return;
        index++;
        start = end + 1;
    }
    r->lines = index;
}

/* media_id, least and greatest video id on each stream's first attribute row, null elsewhere */
static void video_id_columns(Scan *r, const unsigned char *block, StrCol *media, StrCol *least, StrCol *most) {
    const char *p = r->at_first_stream.data, *end = p + r->at_first_stream.len;
    while (p < end) {
        uint32_t first;
        memcpy(&first, p, 4);
        p += 4;
        if (!first) {
            str_push(media, "", 0, 0); str_push(least, "", 0, 0); str_push(most, "", 0, 0);
            continue;
        }
        uint32_t m[2];
        memcpy(m, p, 8);
        p += 8;
        Stream *st = (Stream *)r->stream_info.data + (first - 1);
        str_push(media, (const char *)block + m[0], m[1], 1);
        str_push(least, (const char *)block + st->min_off, st->min_len, 1);
        str_push(most, (const char *)block + st->max_off, st->max_len, 1);
    }
}

/* ------------------------------------------------------------------ back to Python */
#ifndef LINESCAN_CORE_ONLY

/* A scanned column's memory, handed to Python as it is (no copy: about 70 MB per million lines) and
 * freed with the last reference to it; read through the buffer protocol (pyarrow.py_buffer). */
typedef struct {
    PyObject_HEAD
    char *data;
    Py_ssize_t len;
} Owned;

static void owned_dealloc(Owned *o) {
    free(o->data);
    Py_TYPE(o)->tp_free((PyObject *)o);
}

static int owned_getbuffer(Owned *o, Py_buffer *view, int flags) {
    return PyBuffer_FillInfo(view, (PyObject *)o, o->data ? o->data : "", o->len, 1, flags);
}

static Py_ssize_t owned_length(Owned *o) { return o->len; }

static PyBufferProcs OWNED_BUFFER = {(getbufferproc)owned_getbuffer, NULL};
static PySequenceMethods OWNED_SEQUENCE = {.sq_length = (lenfunc)owned_length};

static PyTypeObject OWNED_TYPE = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "_linescan.Column",
    .tp_doc = "The bytes of a scanned column (buffer protocol).",
    .tp_basicsize = sizeof(Owned),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_dealloc = (destructor)owned_dealloc,
    .tp_as_buffer = &OWNED_BUFFER,
    .tp_as_sequence = &OWNED_SEQUENCE,
};

/* b's bytes as a Python object that owns them (b is left empty) */
static PyObject *bytes_of(Buf *b) {
    Owned *o = PyObject_New(Owned, &OWNED_TYPE);
    if (!o) return NULL;
    if (b->data && b->cap > b->len + 4096) { /* buffers are reserved for every line: give back the rest */
        char *shrunk = realloc(b->data, b->len ? b->len : 1);
        if (shrunk) b->data = shrunk;
    }
    o->data = b->data;
    o->len = (Py_ssize_t)b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return (PyObject *)o;
}

static PyObject *str_tuple(StrCol *c) {
    if (c->rows == 0) { int32_t zero = 0; buf_put(&c->offsets, &zero, 4); }
    return Py_BuildValue("(NNN)", bytes_of(&c->valid), bytes_of(&c->offsets), bytes_of(&c->data));
}

/* a dictionary's strings as Arrow utf8 (offsets, data), without nulls */
static PyObject *dict_tuple(Dict *d) {
    PyObject *offsets = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(4 * (d->count + 1)));
    if (!offsets) return NULL;
    int32_t *at = (int32_t *)PyBytes_AS_STRING(offsets);
    at[0] = 0;
    for (size_t i = 0; i < d->count; i++) at[i + 1] = (int32_t)(entry_at(d, i)->off + entry_at(d, i)->len);
    return Py_BuildValue("(NN)", offsets, bytes_of(&d->arena));
}

static PyObject *fix_tuple(FixCol *c) {
    return Py_BuildValue("(NN)", bytes_of(&c->valid), bytes_of(&c->values));
}

static int scan_failed(Scan *r) {
    int failed = r->no_memory || r->slow_text.failed || r->ev_after_seek.failed || r->ev_auto.failed ||
                 r->at_first_stream.failed || fix_failed(&r->ev_line) || fix_failed(&r->ev_ts) ||
                 fix_failed(&r->ev_location) || fix_failed(&r->ev_buffering) || fix_failed(&r->at_line) ||
                 fix_failed(&r->slow_line) || fix_failed(&r->keyless_line) || fix_failed(&r->ev_type) || r->ev_stream.failed ||
                 dict_failed(&r->streams) || dict_failed(&r->types) || r->stream_info.failed ||
                 str_failed(&r->at_key) || str_failed(&r->at_tracking);
    for (int d = 0; d < NDESC; d++) failed |= str_failed(&r->at_desc[d]);
    for (int f = 0; f < r->nfields; f++) failed |= str_failed(&r->ev_field[f]);
    return failed;
}

/* the custom field keys (a tuple of str) into r; 0 with an exception set if they are not */
static int set_field_keys(Scan *r, PyObject *names) {
    if (!names) return 1;
    Py_ssize_t n = PyTuple_GET_SIZE(names);
    if (n > MAX_FIELDS) {
        PyErr_Format(PyExc_ValueError, "at most %d custom field keys, got %zd", MAX_FIELDS, n);
        return 0;
    }
    for (Py_ssize_t k = 0; k < n; k++) {
        Py_ssize_t len;
        const char *at = PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(names, k), &len);
        if (!at) return 0;
        r->field_keys[k].at = at; /* owned by the tuple, which outlives the scan */
        r->field_keys[k].len = (size_t)len;
    }
    r->nfields = (int)n;
    return 1;
}

static PyObject *field_columns(Scan *r) {
    PyObject *list = PyList_New(r->nfields);
    for (int f = 0; list && f < r->nfields; f++) {
        PyObject *column = str_tuple(&r->ev_field[f]);
        if (!column) { Py_CLEAR(list); break; }
        PyList_SET_ITEM(list, f, column);
    }
    return list;
}

static PyObject *scan(PyObject *Py_UNUSED(self), PyObject *args) {
    PyObject *block_arg, *names = NULL;
    if (!PyArg_ParseTuple(args, "O|O!", &block_arg, &PyTuple_Type, &names)) return NULL;
    Py_buffer view;
    if (PyObject_GetBuffer(block_arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    if ((size_t)view.len >= UINT32_MAX / 2) {
        PyBuffer_Release(&view);
        return PyErr_Format(PyExc_ValueError, "block of %zd bytes: blocks must stay under 2 GB", view.len);
    }
    Scan r;
    memset(&r, 0, sizeof r);
    if (!set_field_keys(&r, names)) {
        PyBuffer_Release(&view);
        return NULL;
    }
    const unsigned char *block = view.buf;
    Py_BEGIN_ALLOW_THREADS
    scan_block(&r, block, (size_t)view.len);
    Py_END_ALLOW_THREADS
    PyObject *result = NULL;
    StrCol media = {0}, least = {0}, most = {0};
    if (!scan_failed(&r)) video_id_columns(&r, block, &media, &least, &most);
    if (scan_failed(&r) || str_failed(&media) || str_failed(&least) || str_failed(&most)) {
        PyErr_NoMemory();
        goto done;
    }
    PyObject *desc = PyDict_New();
    for (int d = 0; desc && d < NDESC; d++) {
        PyObject *col = str_tuple(&r.at_desc[d]);
        if (!col || PyDict_SetItemString(desc, DESC_NAMES[d], col) < 0) { Py_XDECREF(col); Py_CLEAR(desc); }
        else Py_DECREF(col);
    }
    if (!desc) goto done;
    result = Py_BuildValue(
        "{s:n,s:n,s:{s:N,s:N,s:N,s:N,s:N,s:N,s:N,s:N},s:N,s:N,s:{s:N,s:N,s:N,s:N,s:N,s:N,s:N},s:N,s:N,s:N}",
        "lines", (Py_ssize_t)r.lines, "events", (Py_ssize_t)r.events,
        "event_columns",
        "line", fix_tuple(&r.ev_line), "ts", fix_tuple(&r.ev_ts), "location", fix_tuple(&r.ev_location),
        "buffering_ms", fix_tuple(&r.ev_buffering), "stream", bytes_of(&r.ev_stream),
        "event_type", fix_tuple(&r.ev_type), "after_seek", bytes_of(&r.ev_after_seek),
        "auto", bytes_of(&r.ev_auto),
        "keys", dict_tuple(&r.streams), "event_types", dict_tuple(&r.types),
        "attribute_columns",
        "line", fix_tuple(&r.at_line), "key", str_tuple(&r.at_key), "tracking_id", str_tuple(&r.at_tracking),
        "media_id", str_tuple(&media), "_tpmid_min", str_tuple(&least), "_tpmid_max", str_tuple(&most),
        "described", desc,
        "slow_lines", fix_tuple(&r.slow_line), "slow_text", bytes_of(&r.slow_text),
        "keyless_lines", fix_tuple(&r.keyless_line));
    if (result) {
        PyObject *fields = field_columns(&r);
        if (!fields || PyDict_SetItemString(result, "field_columns", fields) < 0) Py_CLEAR(result);
        Py_XDECREF(fields);
    }
done:
    free_str(&media); free_str(&least); free_str(&most);
    scan_free(&r);
    PyBuffer_Release(&view);
    return result;
}

/* The scanner threads allocate and free tens of MB per block. By default glibc gives each thread its
 * own arena and serves ever larger blocks from them, keeping freed memory: a 10M-line day measured
 * 1.51 GB peak RSS, 1.30 GB with two arenas and blocks over 4 MB mapped (and unmapped) directly. It
 * costs time (fresh pages for every block: 15 % on a 1M-line day), and it is process-wide, so the
 * engine asks for it only for days too big for memory. */
static PyObject *limit_memory(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(arg)) {
#ifdef __GLIBC__
    mallopt(M_ARENA_MAX, 2);
    mallopt(M_MMAP_THRESHOLD, 4 << 20);
#endif
    Py_RETURN_NONE;
}

static PyMethodDef METHODS[] = {
    {"limit_memory", limit_memory, METH_NOARGS,
     "limit_memory(): trade some speed for a lower peak of memory (glibc), for the rest of the process."},
    {"scan", scan, METH_VARARGS,
     "scan(block, field_keys=()) -> dict of Arrow buffers: events of the usual lines (and each event's "
     "value of every custom field key), attribute rows, slow lines."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef MODULE = {PyModuleDef_HEAD_INIT, "_linescan", NULL, -1, METHODS};

PyMODINIT_FUNC PyInit__linescan(void) {
    if (!build_key_table()) {
        PyErr_SetString(PyExc_RuntimeError, "no collision-free table for the key names");
        return NULL;
    }
    if (PyType_Ready(&OWNED_TYPE) < 0) return NULL;
    PyObject *module = PyModule_Create(&MODULE);
    if (!module) return NULL;
    PyObject *keys = PyTuple_New(NKEYS), *desc = PyTuple_New(NDESC), *json = PyTuple_New(NJKEYS);
    for (int k = 0; keys && k < NKEYS; k++) PyTuple_SET_ITEM(keys, k, PyUnicode_FromString(KEY_NAMES[k]));
    for (int k = 0; json && k < NJKEYS; k++) PyTuple_SET_ITEM(json, k, PyUnicode_FromString(json_key_name(k)));
    for (int d = 0; desc && d < NDESC; d++) PyTuple_SET_ITEM(desc, d, PyUnicode_FromString(DESC_NAMES[d]));
    if (PyModule_AddObject(module, "KEYS", keys) < 0 || PyModule_AddObject(module, "DESCRIBING", desc) < 0 ||
        PyModule_AddObject(module, "JSON_KEYS", json) < 0 ||
        PyModule_AddIntConstant(module, "SHORT_TRACKING_ID", SHORT_TRACKING_ID) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
#endif
