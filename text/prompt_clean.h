/* Wan's prompt cleaning (diffusers pipeline_wan.py `prompt_clean`): HTML
 * entities unescaped twice as Python's html.unescape does, strip, every run of
 * Unicode whitespace (regex `\s+`) collapsed to one space, strip.
 * Differences from diffusers: ftfy.fix_text is not applied (diffusers applies
 * it only when ftfy is installed), and only the named entities of
 * prompt_clean.c's table are known (all HTML4-era ones usable without ';' plus
 * common typographic ones); numeric references (&#..; &#x..;) are exact. */
#ifndef DG_TEXT_PROMPT_CLEAN_H
#define DG_TEXT_PROMPT_CLEAN_H

/* in: NUL-terminated UTF-8 (invalid UTF-8 is an error). *out is malloc'ed. */
int dg_prompt_clean(const char *in, char **out);

#endif
