#include "cli/param_flags.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "cli/args.h"
#include "ditgen_error.h"

static const struct {
    const char *param, *flag;
} param_flags[] = {
    {"width", "--width"},         {"height", "--height"},         {"frames", "--frames"},
    {"steps", "--steps"},         {"sampler", "--sampler"},       {"seed", "--seed"},
    {"fps", "--fps"},             {"cfg_scale", "--cfg-scale"},   {"flow_shift", "--flow-shift"},
    {"pag_scale", "--pag-scale"}, {"pag_heads", "--pag-heads"},   {"pag_u", "--pag-u"},
    {"vae_tile", "--vae-tile"},   {"dtype", "--dtype"},
};
#define N_PARAM_FLAGS (sizeof param_flags / sizeof param_flags[0])

static int is_word_char(char c) { return isalnum((unsigned char)c) || c == '_'; }

/* The flag for the word of length n at w, NULL when it names no parameter. */
static const char *flag_of(const char *w, size_t n) {
    for (size_t i = 0; i < N_PARAM_FLAGS; i++)
        if (strlen(param_flags[i].param) == n && !strncmp(param_flags[i].param, w, n)) return param_flags[i].flag;
    return NULL;
}

void cli_params_as_flags(const char *msg, char *buf, size_t size) {
    size_t o = 0;
    int leading = 1; /* still in the message's opening name/name/... group */
    for (const char *c = msg; *c && o + 1 < size;) {
        if (!is_word_char(*c)) {
            leading = leading && *c == '/';
            buf[o++] = *c++;
            continue;
        }
        const char *w = c;
        while (is_word_char(*c)) c++;
        size_t n = (size_t)(c - w);
        const char *flag = flag_of(w, n);
        if (!flag || !(leading || memchr(w, '_', n))) flag = NULL;
        leading = leading && flag;
        int len = flag ? (int)strlen(flag) : (int)n;
        int wrote = snprintf(buf + o, size - o, "%.*s", len, flag ? flag : w);
        o += wrote > 0 ? (size_t)wrote : 0;
        if (o >= size) o = size - 1;
    }
    buf[o] = 0;
}

void cli_library_error(void) {
    char msg[4096];
    cli_params_as_flags(dg_last_error(), msg, sizeof msg);
    cli_error("%s", msg);
}
