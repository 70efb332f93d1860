/* layercheck.c - an empty translation unit: each layercheck_<layer> shared
 * object is one layer's objects, linked whole with --no-undefined against
 * only the layers below it (see CMakeLists.txt), so that a call into a layer
 * above fails the build. Nothing here is installed or run. */
typedef int vdestack_layercheck_unused;
