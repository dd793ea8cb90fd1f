/* insp_json.h - the header builders' cJSON adds (private to inspect/): each sets *ok to 0 when
 * an add fails (out of memory), so a header is refused whole, never shown with fields missing. */
#ifndef INSP_JSON_H
#define INSP_JSON_H

#include <cjson/cJSON.h>

void insp__ok_num(cJSON *o, int *ok, const char *k, double v);
void insp__ok_str(cJSON *o, int *ok, const char *k, const char *v);
/* Adds item under k (k NULL: appends to the array o); on failure item is deleted. */
void insp__ok_item(cJSON *o, int *ok, const char *k, cJSON *item);

#endif
