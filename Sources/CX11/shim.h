/*
 * shim.h: Xlib for agegender-annotate --display (and its tests). The tool
 * installs a process-wide X error handler so that a window destroyed under
 * ximagesink ends the run cleanly instead of Xlib's default handler exiting
 * the process; the tests send a window manager's WM_DELETE_WINDOW. No logic here.
 */
#ifndef AGB_X11_SHIM_H
#define AGB_X11_SHIM_H
#include <X11/Xlib.h>
#include <X11/Xutil.h>
#endif
