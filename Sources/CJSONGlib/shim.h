/*
 * shim.h: json-glib (Debian libjson-glib-dev), the GLib-family JSON library
 * GStreamer's own plugins use, for agegenderjson's lines. Its builder and
 * generator API is plain C (no macros or variadic functions Swift needs).
 */
#ifndef AGB_JSON_GLIB_SHIM_H
#define AGB_JSON_GLIB_SHIM_H

#include <json-glib/json-glib.h>

#endif
