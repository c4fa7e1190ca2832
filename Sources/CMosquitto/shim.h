/*
 * shim.h: libmosquitto (Debian libmosquitto-dev) for Swift. Its API is plain C
 * with no macros or variadic functions Swift needs, so this only includes it;
 * `struct mosquitto` comes through as an OpaquePointer.
 */
#ifndef AGB_MOSQUITTO_SHIM_H
#define AGB_MOSQUITTO_SHIM_H

#include <mosquitto.h>

#endif
