/* Prompt cleaning against Python (fixture: tests/reference/make_prompt_clean.py): html.unescape
 * with the full HTML5 table and its longest-prefix rule, and diffusers' Wan prompt_clean, on a
 * corpus of tricky strings and every html5 key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/json.h"
#include "tests/test.h"
#include "text/html_unescape.h"
#include "text/prompt_clean.h"

int main(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/fixtures/prompt_clean.json", DG_TEST_DIR);
    cJSON *fixture;
    CHECK_OK(dg_json_load(path, &fixture));
    if (test_failures) return TEST_END();
    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(fixture, "cases");
    int n = 0, same_unescape = 0, same_clean = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cases) {
        const char *in = cJSON_GetStringValue(cJSON_GetArrayItem(c, 0));
        const char *unescaped = cJSON_GetStringValue(cJSON_GetArrayItem(c, 1));
        const char *cleaned = cJSON_GetStringValue(cJSON_GetArrayItem(c, 2));
        CHECK(in && unescaped && cleaned, "case %d is not [input, unescape, clean]", n);
        if (!in || !unescaped || !cleaned) break;
        n++;
        dg_strbuf got = {0};
        CHECK_OK(dg_html_unescape(in, strlen(in), &got));
        CHECK_OK(dg_strbuf_add(&got, "", 0));
        int ok = got.p && !strcmp(got.p, unescaped);
        same_unescape += ok;
        CHECK(ok, "html.unescape(\"%s\"): got \"%s\", want \"%s\"", in, got.p ? got.p : "(null)", unescaped);
        dg_strbuf_free(&got);
        char *out = NULL;
        CHECK_OK(dg_prompt_clean(in, &out));
        ok = out && !strcmp(out, cleaned);
        same_clean += ok;
        CHECK(ok, "prompt_clean(\"%s\"): got \"%s\", want \"%s\"", in, out ? out : "(null)", cleaned);
        free(out);
    }
    cJSON_Delete(fixture);
    CHECK(n > 2231, "only %d cases in the fixture", n);
    printf("html.unescape %d / %d, prompt_clean %d / %d\n", same_unescape, n, same_clean, n);
    return TEST_END();
}
