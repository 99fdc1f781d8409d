/* The web console's files (server/admin/ui/), built into scepd (cmake/embed_files.cmake) and
 * served on the admin listener at /ui/ with headers that keep the page to itself. */
#ifndef SCEPD_UI_FILES_H
#define SCEPD_UI_FILES_H

#include <stddef.h>

#include <microhttpd.h>

typedef struct ui_asset {
    const char *name; /* below ui/, e.g. "index.html" */
    const unsigned char *data;
    size_t len;
} ui_asset;

/* The generated table: every file of server/admin/ui/. */
extern const ui_asset ui_assets[];
extern const size_t ui_asset_count;

/* Whether url is the console's: /ui or below it. */
int ui_files_owns(const char *url);
/* Answers a GET or HEAD of /ui/ (index.html) or /ui/NAME: 404 for a name not built in, 405 for
 * other methods, /ui itself redirected to /ui/. No token needed: the files hold no data. */
enum MHD_Result ui_files_answer(struct MHD_Connection *conn, const char *url, const char *method);

#endif
