/* generate --from FILE: the parameters FILE records become flags placed before the command
 * line's own, which win, so `--from x.png -o y.png` makes x.png again and `--from x.png -s 7
 * -o y.png` the same with another seed. */
#ifndef DG_CLI_GEN_FROM_H
#define DG_CLI_GEN_FROM_H

typedef struct gen_from {
    int argc;
    char **argv;           /* the command line to parse (argv itself when there is no --from) */
    char *file;            /* the --from FILE, NULL without one */
    char model_hash[16];   /* the hash FILE records ("" when none) */
    char model_name[256];  /* the model FILE records */
    char **owned;          /* strings made for argv */
    int n_owned;
} gen_from;

/* Returns 0, or -1 after one line on stderr (f then holds nothing to free). */
int gen_from_expand(int argc, char **argv, gen_from *f);
/* After parsing: the model to run is the one FILE was made with (same weight hash); 0 or -1
 * after one line on stderr. */
int gen_from_check_model(const gen_from *f, const char *model);
void gen_from_free(gen_from *f);

#endif
