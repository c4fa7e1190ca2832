/*
 * shim.h: what Swift needs from GStreamer that it cannot import by itself.
 * GObject instance/class structs for our element, and static inline wrappers
 * for macros and variadic functions. No logic lives here.
 */
#ifndef AGB_GST_SHIM_H
#define AGB_GST_SHIM_H

#include <string.h>
#include <gst/gst.h>
#include <gst/base/gstbasetransform.h>
#include <gst/video/video.h>
#include <gst/video/gstvideofilter.h>
#include <gst/video/gstvideometa.h>
#include <gst/app/gstappsrc.h>
#include <gst/app/gstappsink.h>

#include "gstagegendermeta.h"

/* Instance and class of the agegender element: a GstVideoFilter whose Swift
 * implementation object hangs off `impl` (an Unmanaged pointer). */
typedef struct {
  GstVideoFilter parent;
  void *impl;
} AgbElement;

typedef struct {
  GstVideoFilterClass parent_class;
} AgbElementClass;

/* Fundamental GTypes are macros. */
static inline GType agb_gtype_boolean (void) { return G_TYPE_BOOLEAN; }
static inline GType agb_gtype_int (void) { return G_TYPE_INT; }
static inline GType agb_gtype_uint (void) { return G_TYPE_UINT; }
static inline GType agb_gtype_uint64 (void) { return G_TYPE_UINT64; }
static inline GType agb_gtype_double (void) { return G_TYPE_DOUBLE; }
static inline GType agb_gtype_string (void) { return G_TYPE_STRING; }
static inline GType agb_gtype_structure (void) { return GST_TYPE_STRUCTURE; }
static inline GType agb_gtype_array (void) { return GST_TYPE_ARRAY; }
static inline GType agb_gtype_list (void) { return GST_TYPE_LIST; }

static inline GParamFlags agb_param_flags (gboolean mutable_playing)
{
  return (GParamFlags) (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | (mutable_playing ? GST_PARAM_MUTABLE_PLAYING : GST_PARAM_MUTABLE_READY));
}

static inline GstClockTime agb_clock_time_none (void) { return GST_CLOCK_TIME_NONE; }

/* GST_ELEMENT_ERROR without the macro: text and debug are copied. */
static inline void
agb_element_error (GstElement * element, gboolean resource, gint code, const gchar * text,
    const gchar * debug, const gchar * file, const gchar * function, gint line)
{
  gst_element_message_full (element, GST_MESSAGE_ERROR,
      resource ? GST_RESOURCE_ERROR : GST_STREAM_ERROR, code, g_strdup (text), g_strdup (debug),
      file, function, line);
}

static inline void
agb_element_warning (GstElement * element, const gchar * text, const gchar * debug,
    const gchar * file, const gchar * function, gint line)
{
  gst_element_message_full (element, GST_MESSAGE_WARNING, GST_STREAM_ERROR, GST_STREAM_ERROR_FAILED,
      g_strdup (text), g_strdup (debug), file, function, line);
}

/* gst_structure_set is variadic. */
static inline void agb_structure_set_int (GstStructure * s, const gchar * f, gint v) { gst_structure_set (s, f, G_TYPE_INT, v, NULL); }
static inline void agb_structure_set_uint (GstStructure * s, const gchar * f, guint v) { gst_structure_set (s, f, G_TYPE_UINT, v, NULL); }
static inline void agb_structure_set_uint64 (GstStructure * s, const gchar * f, guint64 v) { gst_structure_set (s, f, G_TYPE_UINT64, v, NULL); }
static inline void agb_structure_set_double (GstStructure * s, const gchar * f, gdouble v) { gst_structure_set (s, f, G_TYPE_DOUBLE, v, NULL); }
static inline void agb_structure_set_string (GstStructure * s, const gchar * f, const gchar * v) { gst_structure_set (s, f, G_TYPE_STRING, v, NULL); }
static inline void agb_structure_set_boolean (GstStructure * s, const gchar * f, gboolean v) { gst_structure_set (s, f, G_TYPE_BOOLEAN, v, NULL); }

/* Meta transform kinds (the copy quark is a C global Swift 6 will not read). */
static inline gboolean agb_meta_transform_is_copy (GQuark type) { return GST_META_TRANSFORM_IS_COPY (type); }
static inline gboolean agb_meta_transform_is_scale (GQuark type) { return GST_VIDEO_META_TRANSFORM_IS_SCALE (type); }

static inline GstElement * agb_element_cast (gpointer p) { return (GstElement *) p; }
static inline GObject * agb_object_cast (gpointer p) { return (GObject *) p; }

/* Debug logging: gst_debug_log_literal with the threshold test GST_CAT_LEVEL_LOG does. */
static inline void
agb_debug_log (GstDebugCategory * category, GstDebugLevel level, const gchar * file,
    const gchar * function, gint line, GObject * object, const gchar * message)
{
  if (G_UNLIKELY (level <= GST_LEVEL_MAX && level <= _gst_debug_min)
      && level <= gst_debug_category_get_threshold (category))
    gst_debug_log_literal (category, level, file, function, line, object, message);
}

static inline GstMessage * agb_message_ref (GstMessage * m) { return gst_message_ref (m); }
static inline void agb_message_unref (GstMessage * m) { gst_message_unref (m); }
static inline void agb_buffer_unref (GstBuffer * b) { gst_buffer_unref (b); }
static inline void agb_sample_unref (GstSample * s) { gst_sample_unref (s); }
static inline void agb_caps_unref (GstCaps * c) { gst_caps_unref (c); }
static inline GstBuffer * agb_buffer_ref (GstBuffer * b) { return gst_buffer_ref (b); }
static inline GstMessageType agb_message_type (GstMessage * m) { return GST_MESSAGE_TYPE (m); }
static inline GstObject * agb_message_src (GstMessage * m) { return GST_MESSAGE_SRC (m); }
static inline GstClockTime agb_buffer_pts (GstBuffer * b) { return GST_BUFFER_PTS (b); }
static inline GstClockTime agb_buffer_duration (GstBuffer * b) { return GST_BUFFER_DURATION (b); }
static inline gboolean agb_buffer_is_discont (GstBuffer * b) { return GST_BUFFER_FLAG_IS_SET (b, GST_BUFFER_FLAG_DISCONT); }
static inline GstEventType agb_event_type (GstEvent * e) { return GST_EVENT_TYPE (e); }
static inline gboolean agb_buffer_is_writable (GstBuffer * b) { return gst_buffer_is_writable (b); }

/* G_OBJECT_GET_CLASS + g_object_class_find_property. */
static inline GParamSpec *
agb_object_find_property (gpointer object, const gchar * name)
{
  return g_object_class_find_property (G_OBJECT_GET_CLASS (object), name);
}

static inline GstAppSrc * agb_app_src_cast (GstElement * e) { return GST_APP_SRC (e); }
static inline GstAppSink * agb_app_sink_cast (GstElement * e) { return GST_APP_SINK (e); }
static inline void agb_object_unref (gpointer o) { gst_object_unref (o); }
static inline GstClockTime agb_seconds (guint64 n) { return n * GST_SECOND; }

/* Instance and class of the agegenderjson element: a pass-through
 * GstBaseTransform whose Swift implementation object hangs off `impl`. */
typedef struct {
  GstBaseTransform parent;
  void *impl;
} AgbJsonElement;

typedef struct {
  GstBaseTransformClass parent_class;
} AgbJsonElementClass;

static inline gboolean agb_clock_time_is_valid (GstClockTime t) { return GST_CLOCK_TIME_IS_VALID (t); }

static inline void agb_query_unref (GstQuery * q) { gst_query_unref (q); }

#endif
