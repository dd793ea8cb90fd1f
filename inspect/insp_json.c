/* insp_json.c - the header builders' cJSON adds (insp_json.h). */
#include "insp_json.h"

void insp__ok_num(cJSON *o, int *ok, const char *k, double v)
{
    if (!cJSON_AddNumberToObject(o, k, v)) *ok = 0;
}

void insp__ok_str(cJSON *o, int *ok, const char *k, const char *v)
{
    if (!cJSON_AddStringToObject(o, k, v)) *ok = 0;
}

void insp__ok_item(cJSON *o, int *ok, const char *k, cJSON *item)
{
    if (!item || !(k ? cJSON_AddItemToObject(o, k, item) : cJSON_AddItemToArray(o, item))) {
        cJSON_Delete(item);
        *ok = 0;
    }
}
