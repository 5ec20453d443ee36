# virtio devices: io_uring for virtio-blk; libslirp is loaded with dlopen only for --net user.
LDLIBS += -luring -ldl
