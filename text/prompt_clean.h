/* Wan's prompt cleaning (diffusers pipeline_wan.py `prompt_clean`): HTML
 * entities unescaped twice as Python's html.unescape does, strip, every run of
 * Unicode whitespace (regex `\s+`) collapsed to one space, strip.
 * Differences from diffusers: ftfy.fix_text is not applied (diffusers applies
 * it only when ftfy is installed). Entities follow html.unescape exactly
 * (text/html_unescape.h: the full HTML5 table, numeric references). */
#ifndef DG_TEXT_PROMPT_CLEAN_H
#define DG_TEXT_PROMPT_CLEAN_H

/* in: NUL-terminated UTF-8 (invalid UTF-8 is an error). *out is malloc'ed. */
int dg_prompt_clean(const char *in, char **out);

#endif
