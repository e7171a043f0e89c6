/* Memory-safety check of the Agora scanner: random blocks (mostly pieces of the usual text and JSON
 * lines, the rest awkward pieces: quotes, '=', NUL, UTF-8, CR, tabs, overlong tokens) are scanned by the
 * C code directly, compiled with AddressSanitizer and UBSan by test_linescan_memory.py. */
#define LINESCAN_CORE_ONLY
#include "../../video_analytics/agora/_linescan.c"

#include <stdio.h>

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 20000;
    if (!build_key_table()) return 1;
    const char *usual[] = {"\n2024-03-01 12:00:01,500 - G [INFO]", " x_tracking_id=abc", " x_tpmid=1",
                           " event_type=MediaStarted", " x_video_location=3.5", " x_episode_title=\"a b\"",
                           " x_stream_size=\"1172, 391\"", " x_bandwidth=9"};
    const char *json[] = {"\n{\"time\":\"2024-03-01T12:00:01.500Z\",\"x_tracking_id\":\"j\",\"x_tpmid\":\"2\"}",
                          "\n{\"time\":\"2024-03-01T12:00:01.500Z\"", ",\"x_tracking_id\":\"abc\"",
                          ",\"x_tpmid\":\"1\"", ",\"path\":\"/log/a/b\"", ",\"agent\":\"a b\"", "}",
                          "{", ",", ":", "\"\"", "\\", "\"time\":\"2024-03-01T12:00:01.5"};
    const char *awkward[] = {"\"", " ", "=", "\n", "]", "] ", "-1.5", "12", "\xc3\xa9", "\t", "\r", "\0",
                             " x_useragent=\"a b\"", " x_after_seek=TRUE", " x_auto=", " x_buffering_length=",
                             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
    size_t n_usual = sizeof usual / sizeof *usual, n_awkward = sizeof awkward / sizeof *awkward;
    size_t n_json = sizeof json / sizeof *json;
    srand(7);
    size_t events = 0;
    for (int round = 0; round < rounds; round++) {
        size_t cap = 1 + (size_t)rand() % 9000, n = 0;
        unsigned char *block = malloc(cap);
        while (n < cap) {
            int kind = rand() % 6; /* usual text pieces, JSON pieces, awkward bytes */
            const char *piece = kind < 3   ? usual[rand() % n_usual]
                                : kind < 4 ? json[rand() % n_json]
                                           : awkward[rand() % n_awkward];
            size_t length = piece[0] ? strlen(piece) : 1;
            if (n + length > cap) length = cap - n;
            memcpy(block + n, piece, length);
            n += length;
        }
        Scan scan;
        memset(&scan, 0, sizeof scan);
        if (round % 2) { /* custom fields read on the event lines */
            scan.nfields = 2;
            scan.field_keys[0] = (FieldText){"x_stream_size", 13};
            scan.field_keys[1] = (FieldText){"x_bandwidth", 11};
        }
        scan_block(&scan, block, n);
        StrCol media = {0}, least = {0}, most = {0};
        video_id_columns(&scan, block, &media, &least, &most);
        events += scan.events;
        free_str(&media);
        free_str(&least);
        free_str(&most);
        scan_free(&scan);
        free(block);
    }
    printf("scanned %d blocks, %zu events\n", rounds, events);
    return 0;
}
