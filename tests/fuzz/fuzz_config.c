/* fuzz_config.c -- libFuzzer target: arbitrary bytes through the TOML-subset parser and
 * the schema binder, the path a config file or a flag takes at startup.
 *
 * Every input must either load or fail with BS_ECONFIG and a message; nothing may crash,
 * leak or read out of bounds. A loaded config must also survive dump -> reload (the dump
 * is a TOML document the loader accepts, with the same values), and each input line is
 * also tried as a flag value for one schema key. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/toml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *dump_config(const bs_config *cfg)
{
    char *s = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&s, &n);
    if (!f)
        abort();
    bs_err err;
    if (bs_config_dump(cfg, f, &err) != BS_OK)
        abort();
    fclose(f);
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bs_config cfg;
    bs_err err;

    /* The raw document parser alone. */
    bs_toml_doc doc;
    if (bs_toml_parse("fuzz.toml", (const char *)data, size, &doc, &err) == BS_OK)
        bs_toml_doc_free(&doc);
    else if (err.code != BS_ECONFIG || err.msg[0] == '\0')
        abort();

    /* The whole binder. */
    bs_config_defaults(&cfg);
    int rc = bs_config_load_buffer(&cfg, "fuzz.toml", data, size, &err);
    if (rc == BS_OK) {
        char *first = dump_config(&cfg);
        bs_config again;
        bs_config_defaults(&again);
        if (bs_config_load_buffer(&again, "dump", first, strlen(first), &err) != BS_OK)
            abort(); /* the dump of an accepted config must load */
        char *second = dump_config(&again);
        if (strcmp(first, second) != 0)
            abort();
        free(first);
        free(second);
        bs_config_free(&again);
    } else if (rc != BS_ECONFIG || err.msg[0] == '\0') {
        abort();
    }

    /* Flag path: the first byte picks a key, the rest (up to a NUL) is the text. */
    if (size > 0) {
        size_t n;
        const bs_config_item *items = bs_config_items(&n);
        const bs_config_item *it = &items[data[0] % n];
        char *text = malloc(size);
        if (!text)
            abort();
        memcpy(text, data + 1, size - 1);
        text[size - 1] = '\0';
        if (bs_config_set(&cfg, it->path, text, &err) == BS_OK) {
            bs_buf out = BS_BUF_INIT;
            if (bs_config_get(&cfg, it->path, &out, &err) != BS_OK)
                abort();
            bs_buf_free(&out);
        }
        uint64_t v;
        (void)bs_config_parse_size(text, &v);
        (void)bs_config_parse_duration(text, &v);
        free(text);
    }
    bs_config_free(&cfg);
    return 0;
}
