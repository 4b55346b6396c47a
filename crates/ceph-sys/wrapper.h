/* Input for generate.sh: the two public Ceph C headers the ceph crate wraps. */
#include <rados/librados.h>
#include <rbd/librbd.h>
#include <rbd/features.h>
