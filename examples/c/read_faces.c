/* read_faces: run the agegender element on a video file and print every face
 * it reports, read from the buffers' GstAgeGenderMeta with the public header
 * gstagegendermeta.h.
 *
 *   make                       # or see the Makefile for the plain cc command
 *   GST_PLUGIN_PATH=../../build/plugins ./read_faces VIDEO
 *
 * Pipeline: filesrc ! decodebin ! videoconvert ! agegender ! fakesink, with a
 * buffer probe on the sink's pad. Output, one line per face, then a summary:
 *
 *   frame=1 x=72 y=64 width=62 height=83 age=39.0 gender=female gender_confidence=0.999 confidence=1.000 track_id=1
 *   summary frames=56 frames_with_faces=56 faces=112 female=56 male=56 mean_age=35.2
 *
 * Exits 1 when the pipeline fails (a missing plugin or model, an unreadable file). */
#include <stdio.h>
#include <string.h>
#include <gst/gst.h>
#include "gstagegendermeta.h"

typedef struct {
  guint frames, frames_with_faces, faces, female, male;
  gdouble age_sum;
} Stats;

static GstPadProbeReturn
on_buffer (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  Stats *stats = user_data;
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER (info);
  GstCustomMeta *meta = gst_buffer_get_age_gender_meta (buffer);
  guint n = meta ? gst_age_gender_meta_get_n_faces (meta) : 0;

  (void) pad;
  stats->frames++;
  if (n > 0)
    stats->frames_with_faces++;
  for (guint i = 0; i < n; i++) {
    GstAgeGenderFace face;
    if (!gst_age_gender_meta_get_face (meta, i, &face))
      continue;
    stats->faces++;
    stats->age_sum += face.age;
    if (face.gender && strcmp (face.gender, "female") == 0)
      stats->female++;
    else if (face.gender && strcmp (face.gender, "male") == 0)
      stats->male++;
    printf ("frame=%u x=%d y=%d width=%d height=%d age=%.1f gender=%s gender_confidence=%.3f "
        "confidence=%.3f track_id=%" G_GUINT64_FORMAT "\n", stats->frames, face.x, face.y, face.width,
        face.height, face.age, face.gender ? face.gender : "unknown", face.gender_confidence,
        face.confidence, face.track_id);
  }
  return GST_PAD_PROBE_OK;
}

int
main (int argc, char **argv)
{
  GError *error = NULL;
  GstElement *pipeline, *source, *sink;
  GstPad *pad;
  GstMessage *msg;
  Stats stats = { 0 };
  int status = 0;

  gst_init (&argc, &argv);
  if (argc != 2) {
    fprintf (stderr, "usage: %s VIDEO\n", argv[0]);
    return 2;
  }
  pipeline = gst_parse_launch ("filesrc name=source ! decodebin ! videoconvert ! agegender "
      "! fakesink name=sink", &error);
  if (!pipeline || error) {
    fprintf (stderr, "cannot build the pipeline: %s (is GST_PLUGIN_PATH set to the plugin's folder?)\n",
        error ? error->message : "unknown error");
    return 1;
  }
  /* Set the location as a property: any file name works, spaces included. */
  source = gst_bin_get_by_name (GST_BIN (pipeline), "source");
  g_object_set (source, "location", argv[1], NULL);
  gst_object_unref (source);

  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  pad = gst_element_get_static_pad (sink, "sink");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, on_buffer, &stats, NULL);
  gst_object_unref (pad);
  gst_object_unref (sink);

  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  msg = gst_bus_timed_pop_filtered (GST_ELEMENT_BUS (pipeline), GST_CLOCK_TIME_NONE,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  if (msg && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    GError *err = NULL;
    gchar *debug = NULL;
    gst_message_parse_error (msg, &err, &debug);
    fprintf (stderr, "error from %s: %s\n%s\n", GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)), err->message,
        debug ? debug : "");
    g_error_free (err);
    g_free (debug);
    status = 1;
  }
  if (msg)
    gst_message_unref (msg);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);

  printf ("summary frames=%u frames_with_faces=%u faces=%u female=%u male=%u mean_age=%.1f\n",
      stats.frames, stats.frames_with_faces, stats.faces, stats.female, stats.male,
      stats.faces ? stats.age_sum / stats.faces : 0.0);
  return status;
}
