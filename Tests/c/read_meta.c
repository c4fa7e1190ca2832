/* Reads the agegender element's metadata from C with the public header
 * Sources/CGStreamer/gstagegendermeta.h, at the end of a pipeline given on the
 * command line (whose sink is named "sink"). Prints one line per face and a
 * summary; exits 1 when no face metadata arrives or the pipeline fails. */
#include <stdio.h>
#include <gst/gst.h>
#include "gstagegendermeta.h"

static guint frames, faces, frames_with_meta;

static GstPadProbeReturn
on_buffer (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER (info);
  GstCustomMeta *meta = gst_buffer_get_age_gender_meta (buffer);
  frames++;
  if (!meta)
    return GST_PAD_PROBE_OK;
  frames_with_meta++;
  for (guint i = 0; i < gst_age_gender_meta_get_n_faces (meta); i++) {
    GstAgeGenderFace face;
    if (!gst_age_gender_meta_get_face (meta, i, &face))
      continue;
    faces++;
    printf ("face frame=%u x=%d y=%d width=%d height=%d age=%.1f gender=%s gender-confidence=%.3f confidence=%.3f track-id=%"
        G_GUINT64_FORMAT "\n", frames, face.x, face.y, face.width, face.height, face.age,
        face.gender ? face.gender : "?", face.gender_confidence, face.confidence, face.track_id);
  }
  return GST_PAD_PROBE_OK;
}

int
main (int argc, char **argv)
{
  GError *error = NULL;
  GstElement *pipeline, *sink;
  GstPad *pad;
  GstMessage *msg;
  int status = 0;

  gst_init (&argc, &argv);
  if (argc != 2) {
    fprintf (stderr, "usage: %s PIPELINE (with a sink named 'sink')\n", argv[0]);
    return 2;
  }
  pipeline = gst_parse_launch (argv[1], &error);
  if (!pipeline || error) {
    fprintf (stderr, "cannot build pipeline: %s\n", error ? error->message : "?");
    return 1;
  }
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  pad = gst_element_get_static_pad (sink, "sink");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, on_buffer, NULL, NULL);
  gst_object_unref (pad);
  gst_object_unref (sink);

  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  msg = gst_bus_timed_pop_filtered (GST_ELEMENT_BUS (pipeline), 120 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  if (!msg) {
    fprintf (stderr, "timed out\n");
    status = 1;
  } else {
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
      GError *err = NULL;
      gst_message_parse_error (msg, &err, NULL);
      fprintf (stderr, "pipeline error: %s\n", err->message);
      g_error_free (err);
      status = 1;
    }
    gst_message_unref (msg);
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
  printf ("summary frames=%u frames-with-meta=%u faces=%u\n", frames, frames_with_meta, faces);
  return (status == 0 && frames_with_meta == frames && faces > 0) ? 0 : 1;
}
