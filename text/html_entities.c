/* Lookup in the generated HTML5 entity table (binary search by name bytes). */
#include "text/html_entities.h"

#include <string.h>

static int compare(const char *name, size_t len, const char *entry) {
    size_t elen = strlen(entry);
    int c = memcmp(name, entry, len < elen ? len : elen);
    if (c) return c;
    return len < elen ? -1 : len > elen;
}

const char *dg_html_entity_value(const char *name, size_t len, int semicolon) {
    size_t lo = 0, hi = dg_html_entity_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = compare(name, len, dg_html_entities[mid].name);
        if (!c) return semicolon || dg_html_entities[mid].bare ? dg_html_entities[mid].value : NULL;
        if (c < 0) hi = mid;
        else lo = mid + 1;
    }
    return NULL;
}
