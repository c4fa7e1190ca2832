/*
 * gstagegendermeta.h: reading the agegender element's per-frame face metadata from C.
 *
 * Public, header-only: include it and link gstreamer-1.0; nothing else from the
 * plugin is needed. The metadata is a GstCustomMeta named "GstAgeGenderMeta"
 * (registered when the agegender plugin loads), so Python reads the same data
 * with  buf.get_custom_meta("GstAgeGenderMeta").get_structure().
 *
 * One meta per buffer. Its GstStructure holds:
 *   width, height   (int)   frame size that the boxes refer to
 *   faces           (GstValueArray of GstStructure "face"), one per face, each with
 *     x, y, width, height     (int)     box in pixels of this buffer's frame
 *     confidence              (double)  detection score, 0..1
 *     age                     (double)  estimated age in years
 *     age-min, age-max        (double)  age range (equal to age for a point estimate)
 *     gender                  (string)  "female" or "male"
 *     gender-confidence       (double)  probability of that gender, 0.5..1
 *     track-id                (uint64)  track id, stable while the face stays in view (0: untracked)
 *     raw-age, raw-gender, raw-gender-confidence
 *                             the latest single-frame estimate; age/gender above are
 *                             fused over the track's frames
 *     landmarks               (GstValueArray of 10 doubles, only from detectors that give
 *                             them: detector=centerface) x1, y1, ... x5, y5 in pixels of this
 *                             buffer's frame: left eye, right eye, nose tip, left and right
 *                             mouth corners, left and right as seen in the image
 *
 * The boxes follow the frame: videoscale rescales them, videoconvert, queue and
 * tee keep them.
 *
 * Example:
 *   GstCustomMeta *meta = gst_buffer_get_age_gender_meta (buffer);
 *   for (guint i = 0; meta && i < gst_age_gender_meta_get_n_faces (meta); i++) {
 *     GstAgeGenderFace face;
 *     if (gst_age_gender_meta_get_face (meta, i, &face))
 *       g_print ("%s %.0f at %d,%d\n", face.gender, face.age, face.x, face.y);
 *   }
 */
#ifndef GST_AGE_GENDER_META_H
#define GST_AGE_GENDER_META_H

#include <string.h>
#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_AGE_GENDER_META_NAME "GstAgeGenderMeta"

typedef struct {
  gint x, y, width, height;
  gdouble confidence;
  gdouble age;
  gdouble age_min, age_max;
  const gchar *gender; /* owned by the meta: valid while the buffer is */
  gdouble gender_confidence;
  guint64 track_id;
  gdouble raw_age;
  const gchar *raw_gender; /* owned by the meta */
  gdouble raw_gender_confidence;
  guint n_landmarks;       /* 5, or 0 when the detector gives none */
  gdouble landmarks[10];   /* x, y of each point */
} GstAgeGenderFace;

/* The buffer's face metadata, or NULL when the element has not seen it. */
static inline GstCustomMeta *
gst_buffer_get_age_gender_meta (GstBuffer * buffer)
{
  return gst_buffer_get_custom_meta (buffer, GST_AGE_GENDER_META_NAME);
}

static inline const GValue *
gst_age_gender_meta_faces_value (GstCustomMeta * meta)
{
  GstStructure *s = meta ? gst_custom_meta_get_structure (meta) : NULL;
  const GValue *faces = s ? gst_structure_get_value (s, "faces") : NULL;
  return (faces && GST_VALUE_HOLDS_ARRAY (faces)) ? faces : NULL;
}

static inline guint
gst_age_gender_meta_get_n_faces (GstCustomMeta * meta)
{
  const GValue *faces = gst_age_gender_meta_faces_value (meta);
  return faces ? gst_value_array_get_size (faces) : 0;
}

static inline gboolean
gst_age_gender_meta_get_face (GstCustomMeta * meta, guint index, GstAgeGenderFace * face)
{
  const GValue *faces = gst_age_gender_meta_faces_value (meta);
  const GValue *entry;
  const GstStructure *f;
  if (!faces || !face || index >= gst_value_array_get_size (faces))
    return FALSE;
  entry = gst_value_array_get_value (faces, index);
  if (!GST_VALUE_HOLDS_STRUCTURE (entry))
    return FALSE;
  f = gst_value_get_structure (entry);
  memset (face, 0, sizeof (*face));
  if (!gst_structure_get_int (f, "x", &face->x) || !gst_structure_get_int (f, "y", &face->y)
      || !gst_structure_get_int (f, "width", &face->width)
      || !gst_structure_get_int (f, "height", &face->height))
    return FALSE;
  gst_structure_get_double (f, "confidence", &face->confidence);
  gst_structure_get_double (f, "age", &face->age);
  face->age_min = face->age_max = face->age;
  gst_structure_get_double (f, "age-min", &face->age_min);
  gst_structure_get_double (f, "age-max", &face->age_max);
  face->gender = gst_structure_get_string (f, "gender");
  gst_structure_get_double (f, "gender-confidence", &face->gender_confidence);
  gst_structure_get_uint64 (f, "track-id", &face->track_id);
  face->raw_age = face->age;
  gst_structure_get_double (f, "raw-age", &face->raw_age);
  face->raw_gender = gst_structure_get_string (f, "raw-gender");
  if (!face->raw_gender)
    face->raw_gender = face->gender;
  face->raw_gender_confidence = face->gender_confidence;
  gst_structure_get_double (f, "raw-gender-confidence", &face->raw_gender_confidence);
  {
    const GValue *points = gst_structure_get_value (f, "landmarks");
    if (points && GST_VALUE_HOLDS_ARRAY (points) && gst_value_array_get_size (points) == 10) {
      guint i;
      for (i = 0; i < 10; i++) {
        const GValue *v = gst_value_array_get_value (points, i);
        face->landmarks[i] = G_VALUE_HOLDS_DOUBLE (v) ? g_value_get_double (v) : 0;
      }
      face->n_landmarks = 5;
    }
  }
  return TRUE;
}

G_END_DECLS

#endif /* GST_AGE_GENDER_META_H */
