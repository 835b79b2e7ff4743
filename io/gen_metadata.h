/* Generation parameters as A1111's "infotext": the prompt, a "Negative prompt: " line when
 * there is one, then one line of "Key: value" pairs. Values holding ',', ':', '"' or a newline
 * are JSON-quoted (A1111's rule; also those with white space at an end), so
 * "PAG heads: \"1:1,3:*\"" parses back whole. The same text
 * goes into PNG `parameters` chunks, MP4 comments and latents files' metadata. */
#ifndef DG_IO_GEN_METADATA_H
#define DG_IO_GEN_METADATA_H

typedef struct dg_infotext {
    char *prompt;   /* "" when empty */
    char *negative; /* "" when absent */
    char **key, **value;
    int n, cap;
} dg_infotext;

/* An empty infotext (prompt and negative ""). */
int dg_infotext_init(dg_infotext *t);
void dg_infotext_free(dg_infotext *t);
/* Copies; the prompt or negative replace the current ones. */
int dg_infotext_set_prompt(dg_infotext *t, const char *prompt, const char *negative);
/* Appends a pair; keys are letters, digits, spaces, '-', '_' and '/', starting with a letter. */
int dg_infotext_add(dg_infotext *t, const char *key, const char *value);
/* The value of key, NULL when absent. */
const char *dg_infotext_get(const dg_infotext *t, const char *key);
/* The text; *out is malloc'ed. */
int dg_infotext_format(const dg_infotext *t, char **out);
/* Parses text as A1111 does: the last line is the parameters when it holds at least three
 * pairs, else everything is prompt. ctx names the source in errors (a bad quoted value). */
int dg_infotext_parse(const char *ctx, const char *text, dg_infotext *t);

/* The shortest decimal that reads back as v ("%.17g" at most): float parameters round-trip. */
void dg_format_double(char *buf, int size, double v);

#endif
