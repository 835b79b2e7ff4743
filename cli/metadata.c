/* ditgen metadata: the parameters an output was made with, as text or JSON. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/gen_meta.h"
#include "cli/param_flags.h"
#include "core/error.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: ditgen metadata FILE.png|FILE.mp4|FILE.safetensors [--json]\n"
            "\n"
            "Prints the parameters a generation recorded in FILE (a PNG's \"parameters\" text, an MP4's\n"
            "comment, a latents file's metadata) in A1111's format: the prompt, \"Negative prompt: ...\",\n"
            "then \"Key: value\" pairs (a value holding ',' ':' or '\"' is JSON-quoted).\n"
            "'ditgen generate --from FILE -o OUT' makes the same generation again.\n"
            "\n"
            "      --json             {\"prompt\", \"negative_prompt\", \"parameters\": {key: value}} instead\n"
            "  -h, --help             this help\n");
}

static int print_json(const dg_infotext *t) {
    cJSON *root = cJSON_CreateObject(), *params = cJSON_CreateObject();
    int ok = root && params && cJSON_AddStringToObject(root, "prompt", t->prompt) &&
             cJSON_AddStringToObject(root, "negative_prompt", t->negative) &&
             cJSON_AddItemToObject(root, "parameters", params);
    if (!ok) cJSON_Delete(params);
    for (int i = 0; i < t->n && ok; i++) ok = cJSON_AddStringToObject(params, t->key[i], t->value[i]) != NULL;
    char *s = ok ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!s) return dg_error("out of memory printing JSON");
    printf("%s\n", s);
    free(s);
    return DG_OK;
}

int cmd_metadata(int argc, char **argv) {
    static const struct option longs[] = {{"json", no_argument, 0, 1}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    cli_error_context("metadata");
    int json = 0, c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
        switch (c) {
        case 1: json = 1; break;
        case 'h': usage(stdout); return 0;
        default: cli_error("unknown option '%s' (see ditgen metadata --help)", cli_refused_option(argv)); return 2;
        }
    }
    if (optind + 1 != argc) {
        cli_error(optind >= argc ? "give a FILE.png, FILE.mp4 or FILE.safetensors" : "unexpected argument '%s'",
                  argv[optind + 1 < argc ? optind + 1 : 0]);
        return 2;
    }
    const char *path = argv[optind];
    char *text;
    if (gen_meta_read(path, &text)) {
        cli_library_error();
        return 1;
    }
    if (!text) {
        cli_error("%s holds no generation parameters (written with --no-metadata, or not by ditgen)", path);
        return 1;
    }
    int rc = 0;
    if (json) {
        dg_infotext t;
        if (dg_infotext_parse(path, text, &t)) {
            rc = 1;
        } else {
            rc = print_json(&t) ? 1 : 0;
            dg_infotext_free(&t);
        }
        if (rc) cli_library_error();
    } else {
        printf("%s\n", text);
    }
    free(text);
    return rc;
}
